import { type Conn, plainRows } from "./conn.ts";
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
    const chunk = entries.slice(i, i + 500);
    if (c.dialect === "sqlite") {
      // Plain SQL on the embedded database (see plainRows): every state change writes here. (On
      // PostgreSQL `data` is a JSON column the query builder types for the driver.)
      await plainRows(
        c,
        `INSERT INTO flow_run_states (id, flow_run_id, type, name, message, timestamp, data) VALUES ${chunk
          .map(() => "(?, ?, ?, ?, ?, ?, ?)")
          .join(", ")}`,
        chunk.flatMap((e) => [
          newId(),
          e.flowRunId,
          e.type,
          e.name,
          e.message ?? null,
          at,
          e.data == null ? null : JSON.stringify(e.data),
        ]),
      );
      continue;
    }
    await c.db.insert(c.t.flowRunStates).values(
      chunk.map((e) => ({
        id: newId(),
        flowRunId: e.flowRunId,
        type: e.type,
        name: e.name,
        message: e.message,
        timestamp: at,
        data: e.data ?? null,
      })),
    );
  }
}
