import { asc, eq } from "drizzle-orm";
import type { TaskRun } from "../model/index.ts";
import { DEFAULT_STATE_NAMES, type StateProposal, WeirError } from "../model/index.ts";
import type { Db } from "./open-store.ts";
import { newId, nowIso, toTaskRun } from "./rows.ts";
import { taskRuns } from "./schema.ts";

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

export async function createTaskRun(db: Db, input: TaskRunInput): Promise<TaskRun> {
  const now = nowIso();
  const id = input.id ?? newId();
  const running = input.state.type === "RUNNING";
  const [row] = await db
    .insert(taskRuns)
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

export async function setTaskRunState(db: Db, id: string, p: StateProposal): Promise<TaskRun> {
  return db.transaction(async (tx) => {
    const [row] = await tx.select().from(taskRuns).where(eq(taskRuns.id, id));
    if (!row) throw new WeirError("NOT_FOUND", `Task run "${id}" does not exist`);
    const now = nowIso();
    const terminal = ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"].includes(p.type);
    const [updated] = await tx
      .update(taskRuns)
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
      .where(eq(taskRuns.id, id))
      .returning();
    return toTaskRun(updated!);
  });
}

export async function listTaskRuns(db: Db, flowRunId: string): Promise<TaskRun[]> {
  const rows = await db
    .select()
    .from(taskRuns)
    .where(eq(taskRuns.flowRunId, flowRunId))
    .orderBy(asc(taskRuns.created), asc(taskRuns.id));
  return rows.map(toTaskRun);
}
