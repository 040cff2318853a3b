import type { SQL } from "drizzle-orm";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import type * as schema from "./schema.ts";

// What every store operation runs on: a drizzle database (or an open transaction), the tables of
// its dialect, and which dialect it is. The query-builder code is shared by both dialects: their
// tables have the same names, columns and types (postgres/schema.ts mirrors schema.ts), so the
// operations are written once against the SQLite types and the few statements whose SQL differs
// (claims, the scheduler's bulk work) branch on `dialect`.

export type Dialect = "sqlite" | "postgres";
export type Tables = typeof schema;
export type Db = LibSQLDatabase<Tables>;
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export interface Conn {
  db: Db | Tx;
  t: Tables;
  dialect: Dialect;
}

/** Runs `fn` in one transaction, on a Conn bound to it. */
export function inTx<T>(c: Conn, fn: (tc: Conn) => Promise<T>): Promise<T> {
  return (c.db as Db).transaction((tx) => fn({ ...c, db: tx }));
}

/** The rows of a raw SQL statement (a SELECT, or a write with RETURNING), on either dialect. */
export async function rawRows<T>(c: Conn, query: SQL): Promise<T[]> {
  if (c.dialect === "sqlite") return (c.db as Db).all<T>(query);
  const result = await (c.db as unknown as { execute(q: SQL): Promise<unknown> }).execute(query);
  return (Array.isArray(result) ? result : ((result as { rows?: T[] }).rows ?? [])) as T[];
}
