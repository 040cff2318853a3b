import { type Column, eq, getTableColumns, getTableName, is, SQL, sql, type Table } from "drizzle-orm";
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

/** `?, ?, ?` for a list of `n` values in plain SQL. */
export const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(", ");

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
const columnsOf = (table: Table): [string, Column][] => {
  let columns = columnLists.get(table);
  if (!columns) {
    columns = Object.entries(getTableColumns(table));
    columnLists.set(table, columns);
  }
  return columns;
};

/** A value as the embedded database stores it, encoded by its column's definition. */
function encode(column: Column, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (is(v, SQL)) throw new Error(`plain writes take values, not SQL (column ${column.name})`);
  return column.mapToDriverValue(v);
}

/**
 * The columns rows set (a key given in any of them) and each row's values for them in that order;
 * a key a row leaves out is NULL there (none of the tables written this way has SQL defaults that
 * those rows rely on).
 */
function encodeRows(table: Table, rows: Record<string, unknown>[]): { names: string[]; values: unknown[][] } {
  const columns = columnsOf(table).filter(([key]) => rows.some((r) => r[key] !== undefined));
  return {
    names: columns.map(([, column]) => column.name),
    values: rows.map((r) => columns.map(([key, column]) => encode(column, r[key]))),
  };
}

/** An INSERT of `rows` in chunks SQLite takes (at most 32,766 values a statement), `tail` after each. */
async function insertPlain(c: Conn, table: Table, rows: Record<string, unknown>[], tail = ""): Promise<void> {
  const { names, values } = encodeRows(table, rows);
  const per = Math.max(1, Math.floor(30_000 / names.length));
  const one = `(${placeholders(names.length)})`;
  for (let i = 0; i < values.length; i += per) {
    const chunk = values.slice(i, i + per);
    await plainRows(
      c,
      `INSERT INTO ${getTableName(table)} (${names.join(", ")}) VALUES ${chunk.map(() => one).join(", ")}${tail}`,
      chunk.flat(),
    );
  }
}

/**
 * Inserts rows as the query builder would, in plain SQL on the embedded database (see plainRows):
 * the hot writes (a run created, a state, task runs) skip building the statement. PostgreSQL goes
 * through the builder, which types its JSON columns for the driver.
 */
export async function insertRows<T extends Table>(
  c: Conn,
  table: T,
  rows: T["$inferInsert"][],
): Promise<void> {
  if (rows.length === 0) return;
  if (c.dialect !== "sqlite") await (c.db as Db).insert(table as never).values(rows as never);
  else await insertPlain(c, table, rows as Record<string, unknown>[]);
}

/**
 * Inserts rows, or where one with the same `target` exists, sets its `update` columns to the new
 * row's: plain SQL on the embedded database (see insertRows), the builder on PostgreSQL.
 */
export async function upsertRows<T extends Table>(
  c: Conn,
  table: T,
  rows: T["$inferInsert"][],
  target: Column,
  update: (keyof T["$inferInsert"] & string)[],
): Promise<void> {
  if (rows.length === 0) return;
  const columns = new Map(columnsOf(table));
  const set = update.map((key) => columns.get(key)!.name);
  if (c.dialect !== "sqlite") {
    await (c.db as Db)
      .insert(table as never)
      .values(rows as never)
      .onConflictDoUpdate({
        target: target as never,
        set: Object.fromEntries(update.map((key, i) => [key, sql.raw(`excluded.${set[i]}`)])) as never,
      });
    return;
  }
  await insertPlain(
    c,
    table,
    rows as Record<string, unknown>[],
    ` ON CONFLICT (${target.name}) DO UPDATE SET ${set.map((n) => `${n} = excluded.${n}`).join(", ")}`,
  );
}

/** Sets columns of the row whose `id` is `id`: plain SQL on the embedded database (see insertRows). */
export async function updateById<T extends Table & { id: Column }>(
  c: Conn,
  table: T,
  id: string,
  patch: Partial<T["$inferInsert"]>,
): Promise<void> {
  if (c.dialect !== "sqlite") {
    await (c.db as Db)
      .update(table as never)
      .set(patch as never)
      .where(eq(table.id, id));
    return;
  }
  const { names, values } = encodeRows(table, [patch as Record<string, unknown>]);
  if (names.length === 0) return;
  await plainRows(
    c,
    `UPDATE ${getTableName(table)} SET ${names.map((n) => `${n} = ?`).join(", ")} WHERE id = ?`,
    [...values[0]!, id],
  );
}

/**
 * A row of `table` read with plainRows (`SELECT *`, columns by their SQL names) as the query
 * builder would give it: each column decoded by its own definition (SQLite's JSON text parsed,
 * its 0/1 as booleans; PostgreSQL's values as they come), NULL as null.
 */
export function mapRow<T extends Table>(table: T, raw: Record<string, unknown>): T["$inferSelect"] {
  const row: Record<string, unknown> = {};
  for (const [key, column] of columnsOf(table)) {
    const v = raw[column.name];
    row[key] = v === null || v === undefined ? null : column.mapFromDriverValue(v);
  }
  return row as T["$inferSelect"];
}
