import { and, asc, eq, ne } from "drizzle-orm";
import type { Catchup, Deployment } from "../model/index.ts";
import { didYouMean, WeirError } from "../model/index.ts";
import { type Conn, inTx, mapRow, placeholders, plainRows } from "./conn.ts";
import { upsertFlow } from "./flows.ts";
import { DEFAULT_PAGE, newId, nowIso, type Page, toDeployment } from "./rows.ts";
import {
  canonical,
  deleteUnstartedDeploymentRuns,
  lockSchedulesOf,
  replaceSchedulesIn,
  type ScheduleInput,
  schedulesOf,
  touchSchedules,
} from "./schedules.ts";

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
  c: Conn,
  input: DeploymentInput,
): Promise<{ deployment: Deployment; created: boolean }> {
  return inTx(c, async (tc) => {
    const flow = await upsertFlow(tc, input.flow_name);
    const now = nowIso();
    const [existing] = await tc.db
      .select({
        id: c.t.deployments.id,
        isScheduleActive: c.t.deployments.isScheduleActive,
        catchup: c.t.deployments.catchup,
        paused: c.t.deployments.paused,
        parameters: c.t.deployments.parameters,
        tags: c.t.deployments.tags,
        workPoolName: c.t.deployments.workPoolName,
        workQueueName: c.t.deployments.workQueueName,
        jobVariables: c.t.deployments.jobVariables,
        entrypoint: c.t.deployments.entrypoint,
        pullSteps: c.t.deployments.pullSteps,
      })
      .from(c.t.deployments)
      .where(and(eq(c.t.deployments.flowId, flow.id), eq(c.t.deployments.name, input.name)));
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
      // Absent keeps it as it was too: a redeploy never resumes a deployment paused by hand.
      paused: input.paused ?? existing?.paused ?? false,
      catchup: input.catchup ?? existing?.catchup ?? "all",
      triggers: input.triggers ?? null,
      concurrencyLimit: input.concurrency_limit ?? null,
    };
    const id = existing?.id ?? newId();
    if (existing) {
      await tc.db.update(c.t.deployments).set(values).where(eq(c.t.deployments.id, id));
      // Runs made before a change that runs carry (parameters, pool, queue, job variables, tags,
      // code) would run as it was: deleted, and made again as it is, as Prefect does.
      if (RUN_FIELDS.some((k) => !sameJson(existing[k], values[k])))
        await deleteUnstartedDeploymentRuns(tc, id);
    } else
      await tc.db
        .insert(c.t.deployments)
        .values({ id, created: now, name: input.name, flowId: flow.id, ...values });
    if (input.schedules !== undefined) await replaceSchedulesIn(tc, id, input.schedules ?? []);
    const [row] = await tc.db.select().from(c.t.deployments).where(eq(c.t.deployments.id, id));
    const schedules = (await schedulesOf(tc, [id])).get(id) ?? [];
    return { deployment: toDeployment(row!, flow.name, schedules), created: !existing };
  });
}

const withFlow = (c: Conn) =>
  c.db
    .select({ d: c.t.deployments, flowName: c.t.flows.name })
    .from(c.t.deployments)
    .innerJoin(c.t.flows, eq(c.t.flows.id, c.t.deployments.flowId));

/** Deployments by id, in one query, without their schedules (for batched run creation). */
export async function getDeploymentsByIds(c: Conn, ids: string[]): Promise<Map<string, Deployment>> {
  // Plain SQL (see plainRows): every run created and every claim that hands out runs reads these.
  const found = new Map<string, Deployment>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await plainRows(
      c,
      `SELECT d.*, f.name AS weir_flow_name FROM deployments d JOIN flows f ON f.id = d.flow_id
        WHERE d.id IN (${placeholders(chunk.length)})`,
      chunk,
    );
    for (const raw of rows) {
      const d = mapRow(c.t.deployments, raw);
      found.set(d.id, toDeployment(d, String(raw.weir_flow_name)));
    }
  }
  return found;
}

/** Finds a deployment by id or by `flow/deployment`; throws NOT_FOUND with a hint otherwise. */
/** By id or FLOW/NAME. `withSchedules: false` skips one query where schedules are not needed (run creation). */
export async function getDeployment(
  c: Conn,
  ref: string,
  opts: { withSchedules?: boolean } = {},
): Promise<Deployment> {
  const slash = ref.indexOf("/");
  const rows =
    slash > 0
      ? await withFlow(c).where(
          and(eq(c.t.flows.name, ref.slice(0, slash)), eq(c.t.deployments.name, ref.slice(slash + 1))),
        )
      : await withFlow(c).where(eq(c.t.deployments.id, ref));
  const [row] = rows;
  if (!row) {
    // A near miss of an existing FLOW/NAME is named (the list is read only on this error path).
    if (slash <= 0) throw deploymentNotFound(ref);
    const names = (
      await c.db
        .select({ flow: c.t.flows.name, name: c.t.deployments.name })
        .from(c.t.deployments)
        .innerJoin(c.t.flows, eq(c.t.flows.id, c.t.deployments.flowId))
        .limit(10_000)
    ).map((r) => `${r.flow}/${r.name}`);
    throw deploymentNotFound(ref, didYouMean(ref, names));
  }
  const schedules =
    opts.withSchedules === false ? [] : ((await schedulesOf(c, [row.d.id])).get(row.d.id) ?? []);
  return toDeployment(row.d, row.flowName, schedules);
}

export async function listDeployments(
  c: Conn,
  filter: { flowName?: string; workPoolName?: string } & Page = {},
): Promise<Deployment[]> {
  const rows = await withFlow(c)
    .where(
      and(
        filter.flowName ? eq(c.t.flows.name, filter.flowName) : undefined,
        filter.workPoolName ? eq(c.t.deployments.workPoolName, filter.workPoolName) : undefined,
      ),
    )
    .orderBy(asc(c.t.flows.name), asc(c.t.deployments.name))
    .limit(filter.limit ?? DEFAULT_PAGE)
    .offset(filter.offset ?? 0);
  const schedules = await schedulesOf(
    c,
    rows.map((r) => r.d.id),
  );
  return rows.map((r) => toDeployment(r.d, r.flowName, schedules.get(r.d.id) ?? []));
}

/**
 * Deletes a deployment with its runs that have not started (Prefect deletes a deployment's
 * scheduled runs with it: nothing could run them, and an agent that took one would crash it).
 * Runs that started or finished are kept, without their deployment; so is a run awaiting its
 * engine's retry, whose process is still going.
 */
export async function deleteDeployment(c: Conn, ref: string): Promise<Deployment> {
  return inTx(c, async (tc) => {
    const d = await getDeployment(tc, ref);
    // After a scheduler insert under way for its schedules (whose runs the delete then sees), and
    // in the order that insert takes them: no run left without its deployment, no deadlock.
    await lockSchedulesOf(tc, d.id);
    await tc.db
      .delete(tc.t.flowRuns)
      .where(
        and(
          eq(tc.t.flowRuns.deploymentId, d.id),
          eq(tc.t.flowRuns.stateType, "SCHEDULED"),
          ne(tc.t.flowRuns.stateName, "AwaitingRetry"),
        ),
      );
    await tc.db.delete(tc.t.deployments).where(eq(tc.t.deployments.id, d.id));
    return d;
  });
}

/** Changes what a person edits by hand (the UI): description, default parameters, tags. */
export async function updateDeploymentFields(
  c: Conn,
  id: string,
  patch: { description?: string | null; parameters?: Record<string, unknown>; tags?: string[] },
): Promise<Deployment> {
  const d = await getDeployment(c, id);
  await inTx(c, async (tc) => {
    await tc.db
      .update(c.t.deployments)
      .set({
        updated: nowIso(),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.parameters !== undefined ? { parameters: patch.parameters } : {}),
        ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
      })
      .where(eq(c.t.deployments.id, d.id));
    // Scheduled runs carry the parameters and tags: made again with the new ones.
    if (
      (patch.parameters !== undefined && !sameJson(patch.parameters, d.parameters)) ||
      (patch.tags !== undefined && !sameJson(patch.tags, d.tags))
    )
      await deleteUnstartedDeploymentRuns(tc, d.id);
  });
  return getDeployment(c, d.id);
}

/** The deployment fields its runs carry or run with. */
const RUN_FIELDS = [
  "parameters",
  "tags",
  "workPoolName",
  "workQueueName",
  "jobVariables",
  "entrypoint",
  "pullSteps",
] as const;

const sameJson = (a: unknown, b: unknown): boolean => canonical(a ?? null) === canonical(b ?? null);

export async function setDeploymentPaused(c: Conn, ref: string, paused: boolean): Promise<Deployment> {
  const d = await getDeployment(c, ref);
  await inTx(c, async (tc) => {
    await tc.db
      .update(c.t.deployments)
      .set({ paused, updated: nowIso() })
      .where(eq(c.t.deployments.id, d.id));
    if (paused) await deleteUnstartedDeploymentRuns(tc, d.id);
    else await touchSchedules(tc, d.id);
  });
  return getDeployment(c, d.id);
}

/** The deployment-level schedule switch (pause-schedule / resume-schedule). */
export async function setScheduleActiveForDeployment(
  c: Conn,
  ref: string,
  active: boolean,
): Promise<Deployment> {
  const d = await getDeployment(c, ref);
  await inTx(c, async (tc) => {
    await tc.db
      .update(c.t.deployments)
      .set({ isScheduleActive: active, updated: nowIso() })
      .where(eq(c.t.deployments.id, d.id));
    if (!active) await deleteUnstartedDeploymentRuns(tc, d.id);
    else await touchSchedules(tc, d.id);
  });
  return getDeployment(c, d.id);
}

export const deploymentNotFound = (ref: string, near?: string): WeirError =>
  new WeirError(
    "NOT_FOUND",
    `Deployment "${ref}" does not exist${near ? ` (did you mean "${near}"?)` : ""} (list deployments with: weir deployment ls; names are FLOW/DEPLOYMENT)`,
  );
