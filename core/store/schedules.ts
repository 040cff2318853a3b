import { and, asc, eq, inArray, isNotNull, isNull, ne, or, type SQL, sql } from "drizzle-orm";
import type { DeploymentSchedule } from "../model/index.ts";
import { WeirError } from "../model/index.ts";
import { type Conn, inTx, rawRows } from "./conn.ts";
import { newId, nowIso, toSchedule } from "./rows.ts";

export interface ScheduleInput {
  /** Canonical spec (see core/schedules scheduleSpec()). */
  schedule: Record<string, unknown>;
  active?: boolean;
  parameters?: Record<string, unknown>;
  slug?: string | null;
  /** At most this many of the schedule's runs active at once (null: no limit of its own). */
  max_active_runs?: number | null;
  /** false: late runs of this schedule are not caught up (null: the deployment's catchup). */
  catchup?: boolean | null;
}

export async function schedulesOf(
  c: Conn,
  deploymentIds: string[],
): Promise<Map<string, DeploymentSchedule[]>> {
  const out = new Map<string, DeploymentSchedule[]>();
  if (deploymentIds.length === 0) return out;
  for (let i = 0; i < deploymentIds.length; i += 500) {
    const rows = await c.db
      .select()
      .from(c.t.deploymentSchedules)
      .where(inArray(c.t.deploymentSchedules.deploymentId, deploymentIds.slice(i, i + 500)))
      .orderBy(asc(c.t.deploymentSchedules.created), asc(c.t.deploymentSchedules.id));
    for (const r of rows) {
      const list = out.get(r.deploymentId) ?? [];
      list.push(toSchedule(r));
      out.set(r.deploymentId, list);
    }
  }
  return out;
}

/**
 * Removes a schedule's auto-scheduled runs that have not started (still SCHEDULED), so a changed,
 * paused or deleted schedule leaves nothing behind that it would no longer create.
 */
export async function deleteUnstartedAutoRuns(c: Conn, scheduleIds: string[]): Promise<number> {
  if (scheduleIds.length === 0) return 0;
  const deleted = await c.db
    .delete(c.t.flowRuns)
    .where(unstartedAuto(c, inArray(c.t.flowRuns.scheduleId, scheduleIds)))
    .returning({ id: c.t.flowRuns.id });
  return deleted.length;
}

/** Auto-scheduled runs that have not started, among those `which` selects. */
function unstartedAuto(c: Conn, which: SQL) {
  return and(
    which,
    eq(c.t.flowRuns.autoScheduled, true),
    eq(c.t.flowRuns.stateType, "SCHEDULED"),
    // One waiting to retry has started: its engine waits in its own process.
    ne(c.t.flowRuns.stateName, "AwaitingRetry"),
  );
}

/** JSON with object keys in order: PostgreSQL's jsonb keeps keys in an order of its own. */
export const canonical = (x: unknown): string =>
  JSON.stringify(x, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );

const sameSpec = (a: Record<string, unknown>, b: Record<string, unknown>) => canonical(a) === canonical(b);

/**
 * Makes a deployment's schedules exactly `inputs` (what a redeploy does). An input matches an
 * existing schedule by slug, else by identical spec; a matched schedule keeps its id and, unless
 * the input pauses it, its active flag, so redeploying never re-activates a schedule a user
 * paused. Changed and removed schedules lose their unstarted runs.
 */
export async function replaceSchedulesIn(
  c: Conn,
  deploymentId: string,
  inputs: ScheduleInput[],
): Promise<void> {
  await lockSchedulesOf(c, deploymentId);
  const existing = (await schedulesOf(c, [deploymentId])).get(deploymentId) ?? [];
  const unmatched = new Set(existing);
  const now = nowIso();
  for (const input of inputs) {
    const match =
      [...unmatched].find((e) => input.slug && e.slug === input.slug) ??
      [...unmatched].find((e) => !input.slug && !e.slug && sameSpec(e.schedule, input.schedule));
    if (match) {
      unmatched.delete(match);
      const parameters = input.parameters ?? {};
      const changed = !sameSpec(match.schedule, input.schedule) || !sameSpec(match.parameters, parameters);
      const active = input.active === false ? false : match.active;
      const maxActiveRuns = input.max_active_runs ?? null;
      const catchup = input.catchup ?? null;
      const limits = maxActiveRuns !== match.max_active_runs || catchup !== match.catchup;
      if (!changed && !limits && active === match.active) continue;
      // The schedule first, then its runs: on PostgreSQL the row's lock waits for a scheduler
      // insert under way, whose runs the delete then sees (see insertScheduledRuns).
      await c.db
        .update(c.t.deploymentSchedules)
        .set({
          schedule: input.schedule,
          parameters,
          active,
          maxActiveRuns,
          catchup,
          updated: now,
          ...(changed ? { error: null } : {}),
        })
        .where(eq(c.t.deploymentSchedules.id, match.id));
      if (changed || !active) await deleteUnstartedAutoRuns(c, [match.id]);
    } else {
      await insertSchedule(c, deploymentId, input);
    }
  }
  const gone = [...unmatched].map((e) => e.id);
  if (gone.length > 0) {
    await c.db.delete(c.t.deploymentSchedules).where(inArray(c.t.deploymentSchedules.id, gone));
    await deleteUnstartedAutoRuns(c, gone);
  }
}

export async function getSchedule(c: Conn, deploymentId: string, ref: string): Promise<DeploymentSchedule> {
  const list = (await schedulesOf(c, [deploymentId])).get(deploymentId) ?? [];
  const found = list.find((s) => s.id === ref || s.slug === ref);
  if (!found) {
    throw new WeirError(
      "NOT_FOUND",
      `Schedule "${ref}" does not exist on this deployment (list them with: weir deployment schedule ls FLOW/NAME)`,
    );
  }
  return found;
}

export async function createSchedule(
  c: Conn,
  deploymentId: string,
  input: ScheduleInput,
): Promise<DeploymentSchedule> {
  if (input.slug) {
    const list = (await schedulesOf(c, [deploymentId])).get(deploymentId) ?? [];
    if (list.some((s) => s.slug === input.slug)) {
      throw new WeirError("CONFLICT", `This deployment already has a schedule with slug "${input.slug}"`);
    }
  }
  return getSchedule(c, deploymentId, await insertSchedule(c, deploymentId, input));
}

async function insertSchedule(c: Conn, deploymentId: string, input: ScheduleInput): Promise<string> {
  const now = nowIso();
  const id = newId();
  await c.db.insert(c.t.deploymentSchedules).values({
    id,
    created: now,
    updated: now,
    deploymentId,
    schedule: input.schedule,
    active: input.active ?? true,
    parameters: input.parameters ?? {},
    slug: input.slug ?? null,
    maxActiveRuns: input.max_active_runs ?? null,
    catchup: input.catchup ?? null,
  });
  return id;
}

/** Pausing drops the schedule's unstarted runs; resuming schedules anew from now. */
export async function setScheduleActive(
  c: Conn,
  deploymentId: string,
  ref: string,
  active: boolean,
): Promise<DeploymentSchedule> {
  const s = await getSchedule(c, deploymentId, ref);
  await inTx(c, async (tc) => {
    await tc.db
      .update(c.t.deploymentSchedules)
      .set({ active, updated: nowIso() })
      .where(eq(c.t.deploymentSchedules.id, s.id));
    await deleteUnstartedAutoRuns(tc, [s.id]);
  });
  return { ...s, active };
}

export async function deleteSchedules(c: Conn, deploymentId: string, ref?: string): Promise<number> {
  const list = ref
    ? [await getSchedule(c, deploymentId, ref)]
    : ((await schedulesOf(c, [deploymentId])).get(deploymentId) ?? []);
  const ids = list.map((s) => s.id);
  if (ids.length === 0 && ref) return 0;
  await inTx(c, async (tc) => {
    if (ids.length)
      await tc.db.delete(c.t.deploymentSchedules).where(inArray(c.t.deploymentSchedules.id, ids));
    await deleteUnstartedAutoRuns(tc, ids);
    // Every schedule gone: no run a schedule made may wait to start, whichever schedule it was
    // (one left by an older version's race with the scheduler included).
    if (!ref)
      await tc.db.delete(c.t.flowRuns).where(unstartedAuto(c, eq(c.t.flowRuns.deploymentId, deploymentId)));
  });
  return ids.length;
}

/** Marks every schedule of a deployment as changed now (resume of the deployment-level switch). */
export async function touchSchedules(c: Conn, deploymentId: string): Promise<void> {
  await c.db
    .update(c.t.deploymentSchedules)
    .set({ updated: nowIso() })
    .where(eq(c.t.deploymentSchedules.deploymentId, deploymentId));
}

/**
 * Unstarted auto-scheduled runs of a deployment, deleted (its schedules switched off, the
 * deployment paused or changed: the scheduler makes them again as the deployment now is).
 */
export async function deleteUnstartedDeploymentRuns(c: Conn, deploymentId: string): Promise<number> {
  // After a scheduler insert under way for these schedules, whose runs the delete then sees.
  await lockSchedulesOf(c, deploymentId);
  // And one that waited for the lock finds its schedules changed, and inserts nothing: on
  // PostgreSQL it re-reads the schedule rows, not the deployment's (see stillScheduled).
  await touchSchedules(c, deploymentId);
  const ids = (await schedulesOf(c, [deploymentId])).get(deploymentId)?.map((s) => s.id) ?? [];
  return deleteUnstartedAutoRuns(c, ids);
}

/**
 * On PostgreSQL, takes the deployment's schedule rows for update, in id order: the order a
 * scheduler insert share-locks them in (see insertScheduledRuns), so the two wait for each other
 * instead of deadlocking. SQLite's write transactions already run one at a time.
 */
export async function lockSchedulesOf(c: Conn, deploymentId: string): Promise<void> {
  if (c.dialect !== "postgres") return;
  await rawRows(
    c,
    sql`SELECT id FROM deployment_schedules WHERE deployment_id = ${deploymentId} ORDER BY id FOR UPDATE`,
  );
}

/**
 * Records, per schedule, why the scheduler could not compute its runs (or null once it could).
 * Only rows whose error changes are written.
 */
export async function setScheduleErrors(c: Conn, errors: Map<string, string | null>): Promise<void> {
  for (const [id, error] of errors) {
    await c.db
      .update(c.t.deploymentSchedules)
      .set({ error })
      .where(
        and(
          eq(c.t.deploymentSchedules.id, id),
          error === null
            ? isNotNull(c.t.deploymentSchedules.error)
            : or(isNull(c.t.deploymentSchedules.error), ne(c.t.deploymentSchedules.error, error)),
        ),
      );
  }
}

/** replaceSchedulesIn() in a transaction of its own. */
export function replaceSchedules(c: Conn, deploymentId: string, inputs: ScheduleInput[]): Promise<void> {
  return inTx(c, (tc) => replaceSchedulesIn(tc, deploymentId, inputs));
}
