import { inArray } from "drizzle-orm";
import { type TaskRunSnapshot, WeirError } from "../model/index.ts";
import { type Conn, upsertRows } from "./conn.ts";
import { nowIso } from "./rows.ts";

/**
 * Inserts or replaces task runs by id, 500 to a statement. The callers check that their runs may
 * take them (upsertTaskRuns; setFlowRunState, inside its transaction); here, that no id is a task
 * run of another flow run (which a writer allowed to touch one open run could otherwise rewrite,
 * finished or not): refused whole, 409.
 */
export async function writeTaskRunRows(c: Conn, snapshots: TaskRunSnapshot[]): Promise<void> {
  const now = nowIso();
  for (let i = 0; i < snapshots.length; i += 500) {
    const chunk = snapshots.slice(i, i + 500);
    const owners = await c.db
      .select({ id: c.t.taskRuns.id, flowRunId: c.t.taskRuns.flowRunId })
      .from(c.t.taskRuns)
      .where(
        inArray(
          c.t.taskRuns.id,
          chunk.map((s) => s.id),
        ),
      );
    const claimed = new Map(chunk.map((s) => [s.id, s.flow_run_id]));
    const other = owners.find((o) => claimed.get(o.id) !== o.flowRunId);
    if (other)
      throw new WeirError(
        "CONFLICT",
        `task run ${other.id} belongs to flow run ${other.flowRunId}, not ${claimed.get(other.id)}: a task run's flow run never changes (give the task run a new id)`,
      );
    await upsertRows(
      c,
      c.t.taskRuns,
      chunk.map((s) => ({
        id: s.id,
        created: s.history[0]?.timestamp ?? now,
        updated: now,
        flowRunId: s.flow_run_id,
        name: s.name,
        taskKey: s.task_key,
        stateType: s.state.type,
        stateName: s.state.name,
        stateMessage: s.state.message ?? null,
        stateTimestamp: s.state.timestamp,
        startTime: s.start_time,
        endTime: s.end_time,
        runCount: s.run_count,
        history: s.history,
      })),
      c.t.taskRuns.id,
      [
        "updated",
        "stateType",
        "stateName",
        "stateMessage",
        "stateTimestamp",
        "startTime",
        "endTime",
        "runCount",
        "history",
      ],
    );
  }
}
