import { asc, eq } from "drizzle-orm";
import type { TaskRun, TaskRunSnapshot } from "../model/index.ts";
import { DEFAULT_STATE_NAMES, type StateProposal, WeirError } from "../model/index.ts";
import { type Conn, inTx } from "./conn.ts";
import { assertRunsOpen } from "./flow-runs.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page, toTaskRun } from "./rows.ts";
import { writeTaskRunRows } from "./task-run-rows.ts";

export interface TaskRunInput {
  /** Engines choose the id so they can report a task without waiting for the answer. */
  id?: string;
  flow_run_id: string;
  name: string;
  task_key: string;
  state: StateProposal;
}

function entry(p: StateProposal, now: string) {
  const e: TaskRun["history"][number] = {
    type: p.type,
    name: p.name ?? DEFAULT_STATE_NAMES[p.type],
    timestamp: now,
  };
  if (p.message) e.message = p.message;
  return e;
}

export async function createTaskRun(c: Conn, input: TaskRunInput): Promise<TaskRun> {
  await assertRunsOpen(c, [input.flow_run_id], "task runs");
  const now = nowIso();
  const id = input.id ?? newId();
  const running = input.state.type === "RUNNING";
  const [row] = await c.db
    .insert(c.t.taskRuns)
    .values({
      id,
      created: now,
      updated: now,
      flowRunId: input.flow_run_id,
      name: input.name,
      taskKey: input.task_key,
      stateType: input.state.type,
      stateName: input.state.name ?? DEFAULT_STATE_NAMES[input.state.type],
      stateMessage: input.state.message ?? null,
      stateTimestamp: now,
      startTime: running ? now : null,
      runCount: running ? 1 : 0,
      history: [entry(input.state, now)],
    })
    .returning();
  return toTaskRun(row!);
}

export async function setTaskRunState(c: Conn, id: string, p: StateProposal): Promise<TaskRun> {
  return inTx(c, async (tc) => {
    const [row] = await tc.db.select().from(c.t.taskRuns).where(eq(c.t.taskRuns.id, id));
    if (!row) throw new WeirError("NOT_FOUND", `Task run "${id}" does not exist`);
    await assertRunsOpen(tc, [row.flowRunId], "task run states");
    const now = nowIso();
    const terminal = ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"].includes(p.type);
    const [updated] = await tc.db
      .update(c.t.taskRuns)
      .set({
        updated: now,
        stateType: p.type,
        stateName: p.name ?? DEFAULT_STATE_NAMES[p.type],
        stateMessage: p.message ?? null,
        stateTimestamp: now,
        startTime: row.startTime ?? (p.type === "RUNNING" ? now : null),
        endTime: terminal ? now : row.endTime,
        runCount: p.type === "RUNNING" ? row.runCount + 1 : row.runCount,
        history: [...row.history, entry(p, now)],
      })
      .where(eq(c.t.taskRuns.id, id))
      .returning();
    return toTaskRun(updated!);
  });
}

export async function listTaskRuns(c: Conn, flowRunId: string, page: Page = {}): Promise<TaskRun[]> {
  const rows = await c.db
    .select()
    .from(c.t.taskRuns)
    .where(eq(c.t.taskRuns.flowRunId, flowRunId))
    .orderBy(asc(c.t.taskRuns.created), asc(c.t.taskRuns.id))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
  return rows.map(toTaskRun);
}

/**
 * Writes task-run snapshots in one statement (insert or replace by id). Engines report this way,
 * so a flow's tasks cost one request per batch instead of two per task.
 */
export async function upsertTaskRuns(
  c: Conn,
  snapshots: TaskRunSnapshot[],
  /** Set by an engine running under a claim: a process whose claim expired writes nothing more. */
  opts: { agentId?: string } = {},
): Promise<number> {
  if (snapshots.length === 0) return 0;
  return inTx(c, async (tc) => {
    await assertRunsOpen(
      tc,
      snapshots.map((s) => s.flow_run_id),
      "task runs",
      opts.agentId,
    );
    await writeTaskRunRows(tc, snapshots);
    return snapshots.length;
  });
}
