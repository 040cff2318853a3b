import { type Conn, insertRows } from "./conn.ts";
import { newId } from "./rows.ts";

/** One entry of a flow run's state history. */
export interface StateEntry {
  flowRunId: string;
  type: string;
  name: string;
  message: string | null;
  data?: Record<string, unknown> | null;
}

/**
 * Appends to flow runs' state histories: the one place history is written, by every change of a
 * run's state (creation, a proposed transition, claims, the scheduler's Late and catch-up). Call
 * it in the transaction that changes the runs themselves. (The SQLite scheduler fast path writes
 * the same rows with plain SQL: see scheduling.ts.)
 */
export async function recordStates(c: Conn, entries: StateEntry[], at: string): Promise<void> {
  for (let i = 0; i < entries.length; i += 500) {
    await insertRows(
      c,
      c.t.flowRunStates,
      entries.slice(i, i + 500).map((e) => ({
        id: newId(),
        flowRunId: e.flowRunId,
        type: e.type,
        name: e.name,
        message: e.message ?? null,
        timestamp: at,
        data: e.data ?? null,
      })),
    );
  }
}
