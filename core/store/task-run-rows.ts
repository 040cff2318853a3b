import { sql } from "drizzle-orm";
import type { TaskRunSnapshot } from "../model/index.ts";
import type { Conn } from "./conn.ts";
import { nowIso } from "./rows.ts";

/**
 * Inserts or replaces task runs by id, 500 to a statement, with no checks: the callers check that
 * their runs may take them (upsertTaskRuns; setFlowRunState, inside its transaction).
 */
export async function writeTaskRunRows(c: Conn, snapshots: TaskRunSnapshot[]): Promise<void> {
  const now = nowIso();
  for (let i = 0; i < snapshots.length; i += 500) {
    await c.db
      .insert(c.t.taskRuns)
      .values(
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
      )
      .onConflictDoUpdate({
        target: c.t.taskRuns.id,
        set: {
          updated: now,
          stateType: sql`excluded.state_type`,
          stateName: sql`excluded.state_name`,
          stateMessage: sql`excluded.state_message`,
          stateTimestamp: sql`excluded.state_timestamp`,
          startTime: sql`excluded.start_time`,
          endTime: sql`excluded.end_time`,
          runCount: sql`excluded.run_count`,
          history: sql`excluded.history`,
        },
      });
  }
}
