import { SQL } from "bun";
import { drizzle } from "drizzle-orm/bun-sql";
import { WeirError } from "../../model/errors.ts";
import type { Conn, Tables } from "../conn.ts";
import { refuseNewer } from "../migrate.ts";
import { bindStore, type Store } from "../store.ts";
import { MIGRATIONS } from "./migrations/index.ts";
import * as schema from "./schema.ts";

// PostgreSQL through Bun's built-in SQL client: a connection pool, TLS from the URL (sslmode),
// and LISTEN/NOTIFY on a connection of its own that reconnects by itself.

export interface PostgresOptions {
  url: string;
  /** Most connections in the pool (WEIR_DATABASE_POOL_SIZE). */
  poolSize?: number;
  migrate?: boolean;
}

/** A PostgreSQL store, with notifications for cross-server wake-ups. */
export async function openPostgres(o: PostgresOptions): Promise<Store> {
  const client = new SQL(o.url, {
    max: o.poolSize ?? 10,
    idleTimeout: 60,
    connectionTimeout: 10,
  });
  const db = drizzle({ client, schema });
  // The query-builder code is shared with SQLite (see conn.ts): the PostgreSQL tables mirror the
  // SQLite ones name for name, so they stand in for them.
  const c: Conn = { db: db as unknown as Conn["db"], t: schema as unknown as Tables, dialect: "postgres" };
  const migrate = () =>
    migratePostgres(client).catch((e: unknown) => {
      throw migrationError(e);
    });
  try {
    // Connect now (the client would wait for the first query), so a wrong URL is named at start.
    await client`SELECT 1`;
    if (o.migrate !== false) await migrate();
  } catch (e) {
    await client.close({ timeout: 0 }).catch(() => {});
    const hint = connectHint(String((e as Error)?.message ?? e), o.url);
    throw hint ? new Error(`${(e as Error).message}; ${hint}`, { cause: e }) : e;
  }
  return bindStore(c, {
    url: o.url,
    migrate,
    close: () => client.close({ timeout: 5 }),
    notifications: {
      notify: async (channel, payload) => {
        await client.notify(channel, payload);
      },
      listen: (channel, on) => client.listen(channel, on),
    },
  });
}

/**
 * Applies the embedded migrations this database has not seen, all in one transaction that first
 * takes an advisory lock: servers starting together migrate once, the others wait and find the
 * work done. DDL is transactional in PostgreSQL, so a failure leaves the previous version.
 */
export async function migratePostgres(client: SQL): Promise<string[]> {
  return client.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('weir-migrations'))`;
    await tx`CREATE TABLE IF NOT EXISTS __weir_migrations (id text PRIMARY KEY NOT NULL, applied_at text NOT NULL)`;
    const seen = new Set(((await tx`SELECT id FROM __weir_migrations`) as { id: string }[]).map((r) => r.id));
    refuseNewer([...seen], MIGRATIONS);
    const applied: string[] = [];
    for (const m of MIGRATIONS) {
      if (seen.has(m.id)) continue;
      for (const stmt of m.sql.split("--> statement-breakpoint")) if (stmt.trim()) await tx.unsafe(stmt);
      await tx`INSERT INTO __weir_migrations (id, applied_at) VALUES (${m.id}, ${new Date().toISOString()})`;
      applied.push(m.id);
    }
    return applied;
  });
}

/** A migration PostgreSQL refused, said with what to change (the role's rights, the URL). */
function migrationError(e: unknown): unknown {
  if (e instanceof WeirError) return e;
  const err = e as { errno?: string; message?: string };
  const why = err?.message ?? String(e);
  const fix =
    err?.errno === "42501"
      ? "the role in the URL may not create tables in this database: make it the database's owner (ALTER DATABASE name OWNER TO role) or GRANT CREATE ON SCHEMA public TO role"
      : err?.errno === "3F000"
        ? "no schema is selected to create tables in: remove search_path from the URL's options, or create that schema"
        : "check the database and the role in the URL";
  return new WeirError(
    "FAILED",
    `Could not bring the database's tables up to this version: ${why} (${fix})`,
    {
      cause: e,
    },
  );
}

/** What to change in the URL for the TLS refusals users meet first. */
function connectHint(message: string, url: string): string | null {
  if (/failed to connect|ECONNREFUSED|connection refused|ENOTFOUND|getaddrinfo/i.test(message)) {
    let where = "the URL's host and port";
    try {
      const u = new URL(url);
      where = `${u.hostname}:${u.port || "5432"}`;
    } catch {}
    return `nothing answered at ${where}: is PostgreSQL running there, and can this machine reach it?`;
  }
  if (/no encryption/i.test(message))
    return "the server takes TLS connections only: add ?sslmode=require to the URL (verify-full with sslrootcert=CA.pem to check its certificate)";
  if (/certificate|self.signed|unable to verify/i.test(message))
    return "the server's certificate could not be verified: give its CA with sslrootcert=PATH in the URL, or use sslmode=require to encrypt without verifying";
  if (/does not support SSL|SSL is not enabled|server does not support/i.test(message))
    return "remove sslmode from the URL, or turn ssl on in the PostgreSQL server";
  return null;
}
