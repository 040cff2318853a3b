import { asc, gt, sql } from "drizzle-orm";
import { WeirError } from "../model/index.ts";
import { type Conn, inTx, rawRows, type Tables } from "./conn.ts";

// Moving a whole database between backends (weir db export / import): every table's rows, in an
// order that keeps foreign keys satisfied, as plain objects with the schema's property names
// (the same for both dialects), so an embedded database can move to PostgreSQL and back.

/** Tables in the order rows must be written (a row's references come before it). */
export const TABLES = [
  "flows",
  "workPools",
  "workQueues",
  "deployments",
  "deploymentSchedules",
  "flowRuns",
  "flowRunStates",
  "flowRunResults",
  "taskRuns",
  "logs",
  "agents",
  "variables",
  "blockDocuments",
  "concurrencyLimits",
  "apiTokens",
] as const satisfies readonly (keyof Tables)[];
// Not moved: `servers`, which describes the processes using a database, not its data.

/** The column a table is paged by: its id, or its one key where it has no id. */
const KEYS: Partial<Record<(typeof TABLES)[number], string>> = { flowRunResults: "flowRunId" };

export type TableName = (typeof TABLES)[number];

function table(c: Conn, name: string) {
  if (!(TABLES as readonly string[]).includes(name))
    throw new WeirError("INVALID", `unknown table "${name}" (the tables are: ${TABLES.join(", ")})`);
  return c.t[name as TableName] as unknown as Tables["flows"];
}

/** Up to `limit` rows of a table after the key `after` (keys ascending), for paging through it. */
export async function readTable(
  c: Conn,
  name: TableName,
  after: string | number | null,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const t = table(c, name);
  const key = (t as unknown as Record<string, typeof t.id>)[KEYS[name] ?? "id"]!;
  const q = c.db.select().from(t);
  const rows = await (after === null ? q : q.where(gt(key, after as string))).orderBy(asc(key)).limit(limit);
  return rows as Record<string, unknown>[];
}

/** The value of a row's paging key (see readTable). */
export function rowKey(name: TableName, row: Record<string, unknown>): string | number {
  return row[KEYS[name] ?? "id"] as string | number;
}

/** Writes rows into a table as they are (ids kept), in one transaction. */
export async function writeRows(c: Conn, name: TableName, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const t = table(c, name);
  await inTx(c, async (tc) => {
    for (let i = 0; i < rows.length; i += 200)
      await tc.db.insert(t).values(rows.slice(i, i + 200) as (typeof t.$inferInsert)[]);
  });
}

/** How many rows each table holds. */
export async function countRows(c: Conn): Promise<Record<TableName, number>> {
  const out = {} as Record<TableName, number>;
  for (const name of TABLES) {
    const [row] = await c.db.select({ n: sql<number>`count(*)` }).from(table(c, name));
    out[name] = Number(row?.n ?? 0);
  }
  return out;
}

/** After rows were written with their own ids: PostgreSQL's id sequences continue after them. */
export async function afterImport(c: Conn): Promise<void> {
  if (c.dialect !== "postgres") return;
  await rawRows(
    c,
    sql`SELECT setval(pg_get_serial_sequence('logs', 'id'), GREATEST((SELECT max(id) FROM logs), 1))`,
  );
}
