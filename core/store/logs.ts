import { and, asc, desc, eq, gt, gte, sql } from "drizzle-orm";
import type { LogEntry } from "../model/index.ts";
import { type Conn, inTx } from "./conn.ts";
import { assertRunsOpen } from "./flow-runs.ts";
import type * as schema from "./schema.ts";

export type LogInput = Omit<LogEntry, "id">;

/**
 * Appends log lines, refused whole (404/409) if one of their runs is missing or finished, or (with
 * `agentId`) no longer held by that agent's claim.
 */
export async function insertLogs(
  c: Conn,
  entries: LogInput[],
  /** Set by an engine running under a claim: a process whose claim expired writes nothing more. */
  opts: { agentId?: string } = {},
): Promise<number> {
  if (entries.length === 0) return 0;
  await inTx(c, async (tc) => {
    await assertRunsOpen(
      tc,
      entries.map((e) => e.flow_run_id),
      "log lines",
      opts.agentId,
    );
    // SQLite caps bound parameters per statement; 7 columns × 500 rows stays well under it.
    for (let i = 0; i < entries.length; i += 500) {
      await tc.db.insert(c.t.logs).values(
        entries.slice(i, i + 500).map((e) => ({
          flowRunId: e.flow_run_id,
          taskRunId: e.task_run_id,
          name: e.name,
          level: e.level,
          message: e.message,
          timestamp: e.timestamp,
        })),
      );
    }
  });
  return entries.length;
}

/**
 * A run's last `limit` lines at `minLevel` or above, oldest first, and how many such lines it
 * has in all (a page showing the tail says what it leaves out).
 */
export async function listLogTail(
  c: Conn,
  flowRunId: string,
  limit: number,
  minLevel = 0,
): Promise<{ lines: LogEntry[]; total: number }> {
  const where = and(eq(c.t.logs.flowRunId, flowRunId), gte(c.t.logs.level, minLevel));
  const [rows, [count]] = await Promise.all([
    c.db.select().from(c.t.logs).where(where).orderBy(desc(c.t.logs.id)).limit(limit),
    c.db.select({ n: sql<number>`count(*)` }).from(c.t.logs).where(where),
  ]);
  return { lines: rows.reverse().map(toLogEntry), total: Number(count?.n ?? rows.length) };
}

export async function listLogs(c: Conn, flowRunId: string, afterId = 0, limit = 1000): Promise<LogEntry[]> {
  const rows = await c.db
    .select()
    .from(c.t.logs)
    .where(and(eq(c.t.logs.flowRunId, flowRunId), gt(c.t.logs.id, afterId)))
    .orderBy(asc(c.t.logs.id))
    .limit(limit);
  return rows.map(toLogEntry);
}

function toLogEntry(r: typeof schema.logs.$inferSelect): LogEntry {
  return {
    id: r.id,
    flow_run_id: r.flowRunId,
    task_run_id: r.taskRunId,
    name: r.name,
    level: r.level,
    message: r.message,
    timestamp: r.timestamp,
  };
}
