import { asc, eq } from "drizzle-orm";
import type { WorkPool, WorkQueue } from "../model/index.ts";
import { firstFreePriority, WeirError } from "../model/index.ts";
import { type Conn, inTx, mapRow, plainRows } from "./conn.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page, toWorkPool, toWorkQueue } from "./rows.ts";

export interface WorkPoolInput {
  name: string;
  type?: string;
  description?: string | null;
  concurrency_limit?: number | null;
  is_paused?: boolean;
  base_job_template?: Record<string, unknown>;
}

async function queuesOf(c: Conn, poolId: string): Promise<WorkQueue[]> {
  // Plain SQL (see plainRows): every claim that hands out runs reads its pool and queues.
  const rows = await plainRows(
    c,
    "SELECT * FROM work_queues WHERE work_pool_id = ? ORDER BY priority, name",
    [poolId],
  );
  return rows.map((raw) => toWorkQueue(mapRow(c.t.workQueues, raw)));
}

export async function findWorkPool(c: Conn, name: string): Promise<WorkPool | undefined> {
  const [raw] = await plainRows(c, "SELECT * FROM work_pools WHERE name = ?", [name]);
  if (!raw) return undefined;
  const row = mapRow(c.t.workPools, raw);
  return toWorkPool(row, await queuesOf(c, row.id));
}

const poolNotFound = (name: string) =>
  new WeirError(
    "NOT_FOUND",
    `Work pool "${name}" does not exist (create it with: weir work-pool create ${name} --type process)`,
  );

export async function getWorkPool(c: Conn, name: string): Promise<WorkPool> {
  const pool = await findWorkPool(c, name);
  if (!pool) throw poolNotFound(name);
  return pool;
}

/** NOT_FOUND unless the pool exists; one plain read (every claim checks). */
export async function requireWorkPool(c: Conn, name: string): Promise<void> {
  const [row] = await plainRows(c, "SELECT 1 AS x FROM work_pools WHERE name = ?", [name]);
  if (!row) throw poolNotFound(name);
}

export async function listWorkPools(c: Conn, page: Page = {}): Promise<WorkPool[]> {
  const rows = await c.db
    .select()
    .from(c.t.workPools)
    .orderBy(asc(c.t.workPools.name))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
  return Promise.all(rows.map(async (r) => toWorkPool(r, await queuesOf(c, r.id))));
}

/**
 * Creates a pool with its "default" queue. With `ifMissing`, an existing pool is returned as is
 * (what an agent started with --pool does); otherwise a duplicate name is a CONFLICT.
 */
export async function createWorkPool(c: Conn, input: WorkPoolInput, ifMissing = false): Promise<WorkPool> {
  // The API checks the type against the infrastructure this build has, and the template.
  const type = input.type ?? "process";
  const now = nowIso();
  const id = newId();
  const inserted = await c.db
    .insert(c.t.workPools)
    .values({
      id,
      created: now,
      updated: now,
      name: input.name,
      type,
      description: input.description ?? null,
      isPaused: input.is_paused ?? false,
      concurrencyLimit: input.concurrency_limit ?? null,
      baseJobTemplate: input.base_job_template ?? {},
    })
    .onConflictDoNothing({ target: c.t.workPools.name })
    .returning({ id: c.t.workPools.id });
  if (inserted.length === 0 && !ifMissing) {
    throw new WeirError(
      "CONFLICT",
      `Work pool "${input.name}" already exists (see it with: weir work-pool inspect ${input.name})`,
    );
  }
  if (inserted.length > 0) await ensureWorkQueue(c, id, "default");
  return getWorkPool(c, input.name);
}

/**
 * Gives queue `id` priority `p` and moves the pool's queues at or after it down just enough to
 * keep every priority unique and in the same order (Prefect's bulk priority update: gaps further
 * down are kept).
 */
async function placeQueue(c: Conn, poolId: string, id: string, p: number): Promise<void> {
  const others = (await c.db.select().from(c.t.workQueues).where(eq(c.t.workQueues.workPoolId, poolId)))
    .filter((q) => q.id !== id)
    .sort((a, b) => a.priority - b.priority);
  let floor = p;
  const moves: { id: string; priority: number }[] = [];
  for (const q of others) {
    if (q.priority < p) continue;
    if (q.priority <= floor) {
      moves.push({ id: q.id, priority: floor + 1 });
      floor += 1;
    } else break;
  }
  const now = nowIso();
  // From the bottom up, so no two queues ever share a priority on the way.
  for (const m of moves.reverse())
    await c.db
      .update(c.t.workQueues)
      .set({ priority: m.priority, updated: now })
      .where(eq(c.t.workQueues.id, m.id));
  await c.db.update(c.t.workQueues).set({ priority: p, updated: now }).where(eq(c.t.workQueues.id, id));
}

export async function ensureWorkQueue(c: Conn, poolId: string, name: string): Promise<void> {
  const now = nowIso();
  const taken = await c.db
    .select({ priority: c.t.workQueues.priority })
    .from(c.t.workQueues)
    .where(eq(c.t.workQueues.workPoolId, poolId));
  await c.db
    .insert(c.t.workQueues)
    .values({
      id: newId(),
      created: now,
      updated: now,
      workPoolId: poolId,
      name,
      priority: firstFreePriority(taken.map((q) => q.priority)),
      isPaused: false,
    })
    .onConflictDoNothing();
}

export async function deleteWorkPool(c: Conn, name: string): Promise<WorkPool> {
  const pool = await getWorkPool(c, name);
  await c.db.delete(c.t.workPools).where(eq(c.t.workPools.id, pool.id));
  return pool;
}

/** Changes what is given of a pool's description, concurrency limit and base job template. */
export async function updateWorkPool(
  c: Conn,
  name: string,
  input: Pick<WorkPoolInput, "description" | "concurrency_limit" | "base_job_template">,
): Promise<WorkPool> {
  const pool = await getWorkPool(c, name);
  await c.db
    .update(c.t.workPools)
    .set({
      updated: nowIso(),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.concurrency_limit !== undefined ? { concurrencyLimit: input.concurrency_limit } : {}),
      ...(input.base_job_template !== undefined ? { baseJobTemplate: input.base_job_template } : {}),
    })
    .where(eq(c.t.workPools.id, pool.id));
  return getWorkPool(c, name);
}

export async function setWorkPoolPaused(c: Conn, name: string, paused: boolean): Promise<WorkPool> {
  const pool = await getWorkPool(c, name);
  await c.db
    .update(c.t.workPools)
    .set({ isPaused: paused, updated: nowIso() })
    .where(eq(c.t.workPools.id, pool.id));
  return { ...pool, is_paused: paused };
}

export interface WorkQueueInput {
  description?: string | null;
  /** Lower runs first; unique in the pool (others move down to make room). */
  priority?: number;
  /** Most runs of the queue PENDING or RUNNING at once; null: no limit of its own. */
  concurrency_limit?: number | null;
  is_paused?: boolean;
}

function queueNotFound(poolName: string, name: string): WeirError {
  return new WeirError(
    "NOT_FOUND",
    `Work queue "${name}" does not exist in pool "${poolName}" (list them with: weir work-queue ls --pool ${poolName})`,
  );
}

export async function createWorkQueue(
  c: Conn,
  poolName: string,
  name: string,
  input: WorkQueueInput = {},
): Promise<WorkQueue> {
  return inTx(c, async (tc) => {
    const pool = await getWorkPool(tc, poolName);
    if (pool.queues.some((q) => q.name === name)) {
      throw new WeirError("CONFLICT", `Work queue "${name}" already exists in pool "${poolName}"`);
    }
    const now = nowIso();
    const id = newId();
    await tc.db.insert(c.t.workQueues).values({
      id,
      created: now,
      updated: now,
      workPoolId: pool.id,
      name,
      description: input.description ?? null,
      // Out of the way first; placeQueue() then takes the priority asked for.
      priority: Math.max(0, ...pool.queues.map((q) => q.priority)) + 1,
      concurrencyLimit: input.concurrency_limit ?? null,
      isPaused: input.is_paused ?? false,
    });
    const p = input.priority ?? firstFreePriority(pool.queues.map((q) => q.priority));
    await placeQueue(tc, pool.id, id, p);
    const [row] = await tc.db.select().from(c.t.workQueues).where(eq(c.t.workQueues.id, id));
    return toWorkQueue(row!);
  });
}

/**
 * Removes a queue. The pool's "default" queue stays (runs without a queue go there). Runs that
 * name the queue keep its name and are still served, after the pool's queues.
 */
export async function deleteWorkQueue(c: Conn, poolName: string, name: string): Promise<WorkQueue> {
  const pool = await getWorkPool(c, poolName);
  const q = pool.queues.find((x) => x.name === name);
  if (!q) throw queueNotFound(poolName, name);
  if (name === "default")
    throw new WeirError(
      "CONFLICT",
      `The "default" queue of pool "${poolName}" cannot be deleted (pause it instead)`,
    );
  await c.db.delete(c.t.workQueues).where(eq(c.t.workQueues.id, q.id));
  return q;
}

/** Changes what is given of a queue: priority, concurrency limit (null clears it), pause, description. */
export async function updateWorkQueue(
  c: Conn,
  poolName: string,
  name: string,
  input: WorkQueueInput,
): Promise<WorkQueue> {
  return inTx(c, async (tc) => {
    const pool = await getWorkPool(tc, poolName);
    const q = pool.queues.find((x) => x.name === name);
    if (!q) throw queueNotFound(poolName, name);
    await tc.db
      .update(c.t.workQueues)
      .set({
        updated: nowIso(),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.concurrency_limit !== undefined ? { concurrencyLimit: input.concurrency_limit } : {}),
        ...(input.is_paused !== undefined ? { isPaused: input.is_paused } : {}),
      })
      .where(eq(c.t.workQueues.id, q.id));
    if (input.priority !== undefined && input.priority !== q.priority)
      await placeQueue(tc, pool.id, q.id, input.priority);
    const [row] = await tc.db.select().from(c.t.workQueues).where(eq(c.t.workQueues.id, q.id));
    return toWorkQueue(row!);
  });
}
