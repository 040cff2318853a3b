import { and, asc, eq } from "drizzle-orm";
import type { WorkPool, WorkQueue } from "../model/index.ts";
import { WeirError } from "../model/index.ts";
import type { Db } from "./open-store.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page, toWorkPool, toWorkQueue } from "./rows.ts";
import { workPools, workQueues } from "./schema.ts";

export interface WorkPoolInput {
  name: string;
  type?: string;
  description?: string | null;
  concurrency_limit?: number | null;
  is_paused?: boolean;
  base_job_template?: Record<string, unknown>;
}

async function queuesOf(db: Db, poolId: string): Promise<WorkQueue[]> {
  const rows = await db
    .select()
    .from(workQueues)
    .where(eq(workQueues.workPoolId, poolId))
    .orderBy(asc(workQueues.priority), asc(workQueues.name));
  return rows.map(toWorkQueue);
}

export async function findWorkPool(db: Db, name: string): Promise<WorkPool | undefined> {
  const [row] = await db.select().from(workPools).where(eq(workPools.name, name));
  return row ? toWorkPool(row, await queuesOf(db, row.id)) : undefined;
}

export async function getWorkPool(db: Db, name: string): Promise<WorkPool> {
  const pool = await findWorkPool(db, name);
  if (!pool) {
    throw new WeirError(
      "NOT_FOUND",
      `Work pool "${name}" does not exist (create it with: weir work-pool create ${name} --type process)`,
    );
  }
  return pool;
}

export async function listWorkPools(db: Db, page: Page = {}): Promise<WorkPool[]> {
  const rows = await db
    .select()
    .from(workPools)
    .orderBy(asc(workPools.name))
    .limit(page.limit ?? DEFAULT_PAGE)
    .offset(page.offset ?? 0);
  return Promise.all(rows.map(async (r) => toWorkPool(r, await queuesOf(db, r.id))));
}

/**
 * Creates a pool with its "default" queue. With `ifMissing`, an existing pool is returned as is
 * (what an agent started with --pool does); otherwise a duplicate name is a CONFLICT.
 */
export async function createWorkPool(db: Db, input: WorkPoolInput, ifMissing = false): Promise<WorkPool> {
  // The API checks the type against the infrastructure this build has, and the template.
  const type = input.type ?? "process";
  const now = nowIso();
  const id = newId();
  const inserted = await db
    .insert(workPools)
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
    .onConflictDoNothing({ target: workPools.name })
    .returning({ id: workPools.id });
  if (inserted.length === 0 && !ifMissing) {
    throw new WeirError(
      "CONFLICT",
      `Work pool "${input.name}" already exists (see it with: weir work-pool inspect ${input.name})`,
    );
  }
  if (inserted.length > 0) await ensureWorkQueue(db, id, "default");
  return getWorkPool(db, input.name);
}

export async function ensureWorkQueue(db: Db, poolId: string, name: string): Promise<void> {
  const now = nowIso();
  await db
    .insert(workQueues)
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

export async function deleteWorkPool(db: Db, name: string): Promise<WorkPool> {
  const pool = await getWorkPool(db, name);
  await db.delete(workPools).where(eq(workPools.id, pool.id));
  return pool;
}

/** Changes what is given of a pool's description, concurrency limit and base job template. */
export async function updateWorkPool(
  db: Db,
  name: string,
  input: Pick<WorkPoolInput, "description" | "concurrency_limit" | "base_job_template">,
): Promise<WorkPool> {
  const pool = await getWorkPool(db, name);
  await db
    .update(workPools)
    .set({
      updated: nowIso(),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.concurrency_limit !== undefined ? { concurrencyLimit: input.concurrency_limit } : {}),
      ...(input.base_job_template !== undefined ? { baseJobTemplate: input.base_job_template } : {}),
    })
    .where(eq(workPools.id, pool.id));
  return getWorkPool(db, name);
}

export async function setWorkPoolPaused(db: Db, name: string, paused: boolean): Promise<WorkPool> {
  const pool = await getWorkPool(db, name);
  await db.update(workPools).set({ isPaused: paused, updated: nowIso() }).where(eq(workPools.id, pool.id));
  return { ...pool, is_paused: paused };
}

export async function createWorkQueue(
  db: Db,
  poolName: string,
  name: string,
  priority?: number,
): Promise<WorkQueue> {
  const pool = await getWorkPool(db, poolName);
  if (pool.queues.some((q) => q.name === name)) {
    throw new WeirError("CONFLICT", `Work queue "${name}" already exists in pool "${poolName}"`);
  }
  const now = nowIso();
  const id = newId();
  await db.insert(workQueues).values({
    id,
    created: now,
    updated: now,
    workPoolId: pool.id,
    name,
    priority: priority ?? pool.queues.length + 1,
    isPaused: false,
  });
  const [row] = await db
    .select()
    .from(workQueues)
    .where(and(eq(workQueues.id, id)));
  return toWorkQueue(row!);
}
