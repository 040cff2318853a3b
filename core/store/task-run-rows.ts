import type { TaskRunSnapshot } from "../model/index.ts";
import { type Conn, upsertRows } from "./conn.ts";
import { nowIso } from "./rows.ts";

/**
 * Inserts or replaces task runs by id, 500 to a statement, with no checks: the callers check that
 * their runs may take them (upsertTaskRuns; setFlowRunState, inside its transaction).
 */
export async function writeTaskRunRows(c: Conn, snapshots: TaskRunSnapshot[]): Promise<void> {
  const now = nowIso();
  for (let i = 0; i < snapshots.length; i += 500) {
    await upsertRows(
      c,
      c.t.taskRuns,
      snapshots.slice(i, i + 500).map((s) => ({
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
