import { and, asc, eq, inArray } from "drizzle-orm";
import type { Catchup, Deployment } from "../model/index.ts";
import { WeirError } from "../model/index.ts";
import { upsertFlow } from "./flows.ts";
import type { Db } from "./open-store.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page, toDeployment } from "./rows.ts";
import {
  deleteUnstartedDeploymentRuns,
  replaceSchedules,
  type ScheduleInput,
  schedulesOf,
  touchSchedules,
} from "./schedules.ts";
import { deployments, flows } from "./schema.ts";

export interface DeploymentInput {
  flow_name: string;
  name: string;
  version?: string | null;
  description?: string | null;
  schedule?: Record<string, unknown> | null;
  is_schedule_active?: boolean;
  parameters?: Record<string, unknown>;
  tags?: string[];
  work_pool_name?: string | null;
  work_queue_name?: string | null;
  parameter_openapi_schema?: Record<string, unknown> | null;
  path?: string | null;
  entrypoint?: string | null;
  storage_document_id?: string | null;
  infrastructure_document_id?: string | null;
  job_variables?: Record<string, unknown>;
  pull_steps?: unknown[] | null;
  enforce_parameter_schema?: boolean;
  paused?: boolean;
  /** Replaces the deployment's schedules when present (null or [] removes them); kept when absent. */
  schedules?: ScheduleInput[] | null;
  catchup?: Catchup;
  triggers?: unknown[] | null;
  concurrency_limit?: { limit: number; collision_strategy: string } | null;
}

/**
 * Creates or replaces the deployment named `flow_name/name`. Re-deploying keeps the id and the
 * creation time, so runs, links and schedules that point at it stay valid.
 */
export async function upsertDeployment(
  db: Db,
  input: DeploymentInput,
): Promise<{ deployment: Deployment; created: boolean }> {
  return db.transaction(async (tx) => {
    const flow = await upsertFlow(tx, input.flow_name);
    const now = nowIso();
    const [existing] = await tx
      .select({
        id: deployments.id,
        isScheduleActive: deployments.isScheduleActive,
        catchup: deployments.catchup,
      })
      .from(deployments)
      .where(and(eq(deployments.flowId, flow.id), eq(deployments.name, input.name)));
    const values = {
      updated: now,
      version: input.version ?? null,
      description: input.description ?? null,
      schedule: input.schedule ?? null,
      // Absent means "as it was": a redeploy must not switch schedules back on.
      isScheduleActive: input.is_schedule_active ?? existing?.isScheduleActive ?? true,
      parameters: input.parameters ?? {},
      tags: input.tags ?? [],
      workPoolName: input.work_pool_name ?? null,
      workQueueName: input.work_queue_name ?? (input.work_pool_name ? "default" : null),
      parameterOpenapiSchema: input.parameter_openapi_schema ?? null,
      path: input.path ?? null,
      entrypoint: input.entrypoint ?? null,
      storageDocumentId: input.storage_document_id ?? null,
      infrastructureDocumentId: input.infrastructure_document_id ?? null,
      jobVariables: input.job_variables ?? {},
      pullSteps: input.pull_steps ?? null,
      enforceParameterSchema: input.enforce_parameter_schema ?? true,
      paused: input.paused ?? false,
      catchup: input.catchup ?? existing?.catchup ?? "all",
      triggers: input.triggers ?? null,
      concurrencyLimit: input.concurrency_limit ?? null,
    };
    const id = existing?.id ?? newId();
    if (existing) await tx.update(deployments).set(values).where(eq(deployments.id, id));
    else
      await tx.insert(deployments).values({ id, created: now, name: input.name, flowId: flow.id, ...values });
    if (input.schedules !== undefined) await replaceSchedules(tx, id, input.schedules ?? []);
    const [row] = await tx.select().from(deployments).where(eq(deployments.id, id));
    const schedules = (await schedulesOf(tx, [id])).get(id) ?? [];
    return { deployment: toDeployment(row!, flow.name, schedules), created: !existing };
  });
}

const withFlow = (db: Db) =>
  db
    .select({ d: deployments, flowName: flows.name })
    .from(deployments)
    .innerJoin(flows, eq(flows.id, deployments.flowId));

/** Deployments by id, in one query, without their schedules (for batched run creation). */
export async function getDeploymentsByIds(db: Db, ids: string[]): Promise<Map<string, Deployment>> {
  const rows = ids.length ? await withFlow(db).where(inArray(deployments.id, ids)) : [];
  return new Map(rows.map((r) => [r.d.id, toDeployment(r.d, r.flowName)]));
}

/** Finds a deployment by id or by `flow/deployment`; throws NOT_FOUND with a hint otherwise. */
/** By id or FLOW/NAME. `withSchedules: false` skips one query where schedules are not needed (run creation). */
export async function getDeployment(
  db: Db,
  ref: string,
  opts: { withSchedules?: boolean } = {},
): Promise<Deployment> {
  const slash = ref.indexOf("/");
  const rows =
    slash > 0
      ? await withFlow(db).where(
          and(eq(flows.name, ref.slice(0, slash)), eq(deployments.name, ref.slice(slash + 1))),
        )
      : await withFlow(db).where(eq(deployments.id, ref));
  const [row] = rows;
  if (!row) {
    throw deploymentNotFound(ref);
  }
  const schedules =
    opts.withSchedules === false ? [] : ((await schedulesOf(db, [row.d.id])).get(row.d.id) ?? []);
  return toDeployment(row.d, row.flowName, schedules);
}

export async function listDeployments(
  db: Db,
  filter: { flowName?: string } & Page = {},
): Promise<Deployment[]> {
  const rows = await withFlow(db)
    .where(filter.flowName ? eq(flows.name, filter.flowName) : undefined)
    .orderBy(asc(flows.name), asc(deployments.name))
    .limit(filter.limit ?? DEFAULT_PAGE)
    .offset(filter.offset ?? 0);
  const schedules = await schedulesOf(
    db,
    rows.map((r) => r.d.id),
  );
  return rows.map((r) => toDeployment(r.d, r.flowName, schedules.get(r.d.id) ?? []));
}

export async function deleteDeployment(db: Db, ref: string): Promise<Deployment> {
  const d = await getDeployment(db, ref);
  await db.delete(deployments).where(eq(deployments.id, d.id));
  return d;
}

export async function setDeploymentPaused(db: Db, ref: string, paused: boolean): Promise<Deployment> {
  const d = await getDeployment(db, ref);
  await db.transaction(async (tx) => {
    await tx.update(deployments).set({ paused, updated: nowIso() }).where(eq(deployments.id, d.id));
    if (paused) await deleteUnstartedDeploymentRuns(tx, d.id);
    else await touchSchedules(tx, d.id);
  });
  return getDeployment(db, d.id);
}

/** The deployment-level schedule switch (pause-schedule / resume-schedule). */
export async function setScheduleActiveForDeployment(
  db: Db,
  ref: string,
  active: boolean,
): Promise<Deployment> {
  const d = await getDeployment(db, ref);
  await db.transaction(async (tx) => {
    await tx
      .update(deployments)
      .set({ isScheduleActive: active, updated: nowIso() })
      .where(eq(deployments.id, d.id));
    if (!active) await deleteUnstartedDeploymentRuns(tx, d.id);
    else await touchSchedules(tx, d.id);
  });
  return getDeployment(db, d.id);
}

export const deploymentNotFound = (ref: string): WeirError =>
  new WeirError(
    "NOT_FOUND",
    `Deployment "${ref}" does not exist (list deployments with: weir deployment ls; names are FLOW/DEPLOYMENT)`,
  );
