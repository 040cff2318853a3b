import type { Client } from "@libsql/client";
import { WeirError } from "../model/errors.ts";
import { MIGRATIONS } from "./migrations/index.ts";

/**
 * A database a newer build migrated has tables this one does not know how to use (and writes it
 * would get wrong): refused, naming what to do, before anything is written.
 */
export function refuseNewer(applied: string[], known: readonly { id: string }[]): void {
  const ids = new Set(known.map((m) => m.id));
  const unknown = applied.filter((id) => !ids.has(id)).sort();
  if (unknown.length > 0)
    throw new WeirError(
      "INVALID",
      `This database was migrated by a newer Weir: it has ${unknown.length === 1 ? "migration" : "migrations"} ${unknown.join(", ")}, which this build does not know. Run the newer Weir here (every server of one database runs the same version), or restore a copy made before the upgrade`,
    );
}

/**
 * Applies the embedded migrations that the database has not seen yet, each in its own write
 * transaction, so two servers starting on one file cannot both apply one, and a crash mid-way
 * leaves the database at the previous version. Returns the ids applied (empty on a second start).
 */
export async function migrate(client: Client): Promise<string[]> {
  await client.execute(
    "CREATE TABLE IF NOT EXISTS __weir_migrations (id TEXT PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL)",
  );
  const before = await client.execute("SELECT id FROM __weir_migrations");
  refuseNewer(
    before.rows.map((r) => String(r.id)),
    MIGRATIONS,
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
