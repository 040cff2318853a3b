import type { Client } from "@libsql/client";
import { MIGRATIONS } from "./migrations/index.ts";

/**
 * Applies the embedded migrations that the database has not seen yet, each in its own write
 * transaction, so two servers starting on one file cannot both apply one, and a crash mid-way
 * leaves the database at the previous version. Returns the ids applied (empty on a second start).
 */
export async function migrate(client: Client): Promise<string[]> {
  await client.execute(
    "CREATE TABLE IF NOT EXISTS __weir_migrations (id TEXT PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL)",
  );
  const applied: string[] = [];
  for (const m of MIGRATIONS) {
    const tx = await client.transaction("write");
    try {
      const seen = await tx.execute({ sql: "SELECT 1 FROM __weir_migrations WHERE id = ?", args: [m.id] });
      if (seen.rows.length > 0) {
        await tx.rollback();
        continue;
      }
      for (const stmt of m.sql.split("--> statement-breakpoint")) {
        if (stmt.trim()) await tx.execute(stmt);
      }
      await tx.execute({
        sql: "INSERT INTO __weir_migrations (id, applied_at) VALUES (?, ?)",
        args: [m.id, new Date().toISOString()],
      });
      await tx.commit();
      applied.push(m.id);
    } finally {
      tx.close();
    }
  }
  return applied;
}
