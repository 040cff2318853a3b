import { type Column, getTableColumns, type SQL, sql, type Table } from "drizzle-orm";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import type { DirectRows } from "./bun-sqlite-client.ts";
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

/** A statement's text split at its `?` placeholders, for the dialects that number them. */
const splitAtParams = new Map<string, string[]>();

/**
 * The rows of one SQL statement written as text with `?` placeholders (no `?` in its literals),
 * on either dialect: the store's hottest statements. On the embedded database it runs straight on
 * the cached prepared statement of the connection drizzle itself would use (the transaction's,
 * inside one), its rows plain objects as SQLite gives them (JSON columns as text, booleans as
 * 0/1); elsewhere it goes through rawRows (PostgreSQL gives JSON parsed and booleans as booleans:
 * the callers read either).
 */
export async function plainRows<T = Record<string, unknown>>(
  c: Conn,
  text: string,
  args: readonly unknown[] = [],
): Promise<T[]> {
  if (c.dialect === "sqlite") {
    const session = (c.db as unknown as { session?: { tx?: unknown; client?: unknown } }).session;
    const target = (session?.tx ?? session?.client) as Partial<DirectRows> | undefined;
    if (typeof target?.rows === "function") return (await target.rows(text, args)) as T[];
  }
  let parts = splitAtParams.get(text);
  if (!parts) {
    parts = text.split("?");
    if (splitAtParams.size < 1000) splitAtParams.set(text, parts);
  }
  if (parts.length - 1 !== args.length)
    throw new Error(`plainRows(): ${parts.length - 1} placeholders but ${args.length} values`);
  const chunks: SQL[] = [sql.raw(parts[0]!)];
  for (let i = 0; i < args.length; i++) chunks.push(sql`${args[i]}`, sql.raw(parts[i + 1]!));
  return rawRows<T>(c, sql.join(chunks));
}

/** The rows of a raw SQL statement (a SELECT, or a write with RETURNING), on either dialect. */
export async function rawRows<T>(c: Conn, query: SQL): Promise<T[]> {
  if (c.dialect === "sqlite") return (c.db as Db).all<T>(query);
  const result = await (c.db as unknown as { execute(q: SQL): Promise<unknown> }).execute(query);
  return (Array.isArray(result) ? result : ((result as { rows?: T[] }).rows ?? [])) as T[];
}

const columnLists = new WeakMap<Table, [string, Column][]>();

/**
 * A row of `table` read with plainRows (`SELECT *`, columns by their SQL names) as the query
 * builder would give it: each column decoded by its own definition (SQLite's JSON text parsed,
 * its 0/1 as booleans; PostgreSQL's values as they come), NULL as null.
 */
export function mapRow<T extends Table>(table: T, raw: Record<string, unknown>): T["$inferSelect"] {
  let columns = columnLists.get(table);
  if (!columns) {
    columns = Object.entries(getTableColumns(table));
    columnLists.set(table, columns);
  }
  const row: Record<string, unknown> = {};
  for (const [key, column] of columns) {
    const v = raw[column.name];
    row[key] = v === null || v === undefined ? null : column.mapFromDriverValue(v);
  }
  return row as T["$inferSelect"];
}
