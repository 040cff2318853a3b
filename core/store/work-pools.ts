import { and, asc, eq } from "drizzle-orm";
import type { WorkPool, WorkQueue } from "../model/index.ts";
import { WeirError } from "../model/index.ts";
import type { Conn } from "./conn.ts";
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
  const rows = await c.db
    .select()
    .from(c.t.workQueues)
    .where(eq(c.t.workQueues.workPoolId, poolId))
    .orderBy(asc(c.t.workQueues.priority), asc(c.t.workQueues.name));
  return rows.map(toWorkQueue);
}

export async function findWorkPool(c: Conn, name: string): Promise<WorkPool | undefined> {
  const [row] = await c.db.select().from(c.t.workPools).where(eq(c.t.workPools.name, name));
  return row ? toWorkPool(row, await queuesOf(c, row.id)) : undefined;
}

export async function getWorkPool(c: Conn, name: string): Promise<WorkPool> {
  const pool = await findWorkPool(c, name);
  if (!pool) {
    throw new WeirError(
      "NOT_FOUND",
      `Work pool "${name}" does not exist (create it with: weir work-pool create ${name} --type process)`,
    );
  }
  return pool;
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

export async function ensureWorkQueue(c: Conn, poolId: string, name: string): Promise<void> {
  const now = nowIso();
  await c.db
    .insert(c.t.workQueues)
    .values({
      id: newId(),
      created: now,
      updated: now,
      workPoolId: poolId,
      name,
      priority: 1,
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

export async function createWorkQueue(
  c: Conn,
  poolName: string,
  name: string,
  priority?: number,
): Promise<WorkQueue> {
  const pool = await getWorkPool(c, poolName);
  if (pool.queues.some((q) => q.name === name)) {
    throw new WeirError("CONFLICT", `Work queue "${name}" already exists in pool "${poolName}"`);
  }
  const now = nowIso();
  const id = newId();
  await c.db.insert(c.t.workQueues).values({
    id,
    created: now,
    updated: now,
    workPoolId: pool.id,
    name,
    priority: priority ?? pool.queues.length + 1,
    isPaused: false,
  });
  const [row] = await c.db
    .select()
    .from(c.t.workQueues)
    .where(and(eq(c.t.workQueues.id, id)));
  return toWorkQueue(row!);
}
