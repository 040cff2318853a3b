import type { Client } from "@libsql/client";
import { sql } from "drizzle-orm";
import { DEFAULT_SCHEDULER_SETTINGS, type SchedulerSettings } from "../config/index.ts";
import { describeError, randomRunName } from "../model/index.ts";
import { DateExpander } from "../schedules/index.ts";
import type { Db } from "../store/index.ts";
import { newId, setScheduleErrors } from "../store/index.ts";
import { flowRunStates, type flowRuns } from "../store/schema.ts";

export type { SchedulerSettings };
export const DEFAULT_SETTINGS: SchedulerSettings = DEFAULT_SCHEDULER_SETTINGS;

export interface PassResult {
  schedulesChecked: number;
  created: number;
  late: number;
  skipped: number;
  /** Schedules whose run times could not be computed (each keeps its error). */
  failed: number;
  ms: number;
}

interface Candidate {
  id: string;
  deployment_id: string;
  schedule: string;
  parameters: string;
  updated: string;
  flow_id: string;
  d_parameters: string;
  d_tags: string;
  d_job_variables: string;
  work_pool_name: string | null;
  work_queue_name: string | null;
  last_time: string | null;
  error: string | null;
}

// SQLite binds at most 32,766 values per statement: 21 columns x 1,000 rows stays under it.
const CHUNK = 1000;

const SKIPPED = {
  none: "Skipped: missed its scheduled time and the deployment's catchup policy is none",
  latest:
    "Skipped: missed its scheduled time; the deployment's catchup policy latest runs only the most recent missed run",
};

/**
 * One scheduler pass, set-based: one query finds the schedules that need runs, dates are computed
 * in memory, runs are inserted in batches that skip any (deployment, schedule, time) already there
 * (a unique key), then Late marking and catch-up are single UPDATEs. Safe to run from several
 * processes at once and to interrupt at any point.
 */
export async function schedulePass(
  db: Db,
  settings: SchedulerSettings = DEFAULT_SETTINGS,
  opts: { now?: number; deploymentIds?: string[]; expander?: DateExpander } = {},
): Promise<PassResult> {
  const expander = opts.expander ?? new DateExpander(1000);
  let failed = 0;
  const started = performance.now();
  const now = opts.now ?? Date.now();
  const nowIso = new Date(now).toISOString();
  const minEnd = new Date(now + settings.minTimeMs).toISOString();
  const only = opts.deploymentIds?.length
    ? sql`AND d.id IN (${sql.join(
        opts.deploymentIds.map((id) => sql`${id}`),
        sql`, `,
      )})`
    : sql``;

  const candidates = await db.all<Candidate>(sql`
    WITH s AS (
      SELECT s.id, s.deployment_id, s.schedule, s.parameters, s.updated, s.error,
        d.flow_id, d.parameters AS d_parameters, d.tags AS d_tags, d.job_variables AS d_job_variables,
        d.work_pool_name, d.work_queue_name,
        (SELECT count(*) FROM flow_runs r WHERE r.schedule_id = s.id AND r.expected_start_time >= ${nowIso}) AS future_count,
        (SELECT max(r.expected_start_time) FROM flow_runs r WHERE r.schedule_id = s.id) AS last_time
      FROM deployment_schedules s JOIN deployments d ON d.id = s.deployment_id
      WHERE s.active = 1 AND d.is_schedule_active = 1 AND d.paused = 0 ${only}
    )
    SELECT * FROM s WHERE future_count < ${settings.minRuns} OR last_time IS NULL OR last_time < ${minEnd}`);

  const rows: (typeof flowRuns.$inferInsert)[] = [];
  // Many deployments share a schedule (every hour, every day at 09:00): within a pass the same
  // spec and starting point always select the same times, so each is computed once.
  const selected = new Map<string, Promise<number[]>>();
  // A schedule whose times cannot be computed is skipped with its error recorded; the others go on.
  const errors = new Map<string, string | null>();
  for (const c of candidates) {
    // Continue after the last run created (runs missed during an outage are created too, for the
    // catch-up policy to handle), but never before the schedule was last changed or resumed.
    const changed = Date.parse(c.updated);
    const last = c.last_time ? Date.parse(c.last_time) + 1 : now;
    const from = Math.max(Math.min(last, now), changed);
    const key = `${from}|${c.schedule}`;
    if (!selected.has(key))
      selected.set(key, (async () => expander.select(JSON.parse(c.schedule), from, now, settings))());
    let dates: number[];
    try {
      dates = await selected.get(key)!;
      if (c.error !== null) errors.set(c.id, null);
    } catch (err) {
      const message = `the scheduler could not compute this schedule's runs: ${describeError(err)}`;
      if (c.error !== message) errors.set(c.id, message);
      failed++;
      continue;
    }
    const params = { ...JSON.parse(c.d_parameters), ...JSON.parse(c.parameters) };
    const tags = [...new Set([...(JSON.parse(c.d_tags) as string[]), "auto-scheduled"])];
    const jobVariables = JSON.parse(c.d_job_variables);
    for (const t of dates) {
      const iso = new Date(t).toISOString();
      rows.push({
        id: newId(),
        created: nowIso,
        updated: nowIso,
        name: randomRunName(),
        flowId: c.flow_id,
        deploymentId: c.deployment_id,
        workPoolName: c.work_pool_name,
        workQueueName: c.work_queue_name,
        parameters: params,
        jobVariables,
        tags,
        stateType: "SCHEDULED",
        stateName: "Scheduled",
        stateMessage: null,
        stateTimestamp: nowIso,
        expectedStartTime: iso,
        nextScheduledStartTime: iso,
        totalRunTime: 0,
        runCount: 0,
        autoScheduled: true,
        scheduleId: c.id,
        idempotencyKey: `${c.deployment_id}:${c.id}:${iso}`,
      });
    }
  }

  const created = await insertRuns(db, rows, nowIso);
  if (errors.size > 0) await setScheduleErrors(db, errors);
  const { late, skipped } = await markLateAndCatchUp(db, now, settings);
  return {
    schedulesChecked: candidates.length,
    created,
    late,
    skipped,
    failed,
    ms: performance.now() - started,
  };
}

/**
 * Runs still SCHEDULED well after their time become Late. Then each deployment's catch-up policy
 * applies to its missed auto-scheduled runs: `all` leaves them to run, `latest` cancels all but
 * the most recent, `none` cancels them all, each with a message saying why.
 */
async function markLateAndCatchUp(
  db: Db,
  now: number,
  settings: SchedulerSettings,
): Promise<{ late: number; skipped: number }> {
  const nowIso = new Date(now).toISOString();
  const cutoff = new Date(now - settings.lateAfterMs).toISOString();
  return db.transaction(async (tx) => {
    const late = await tx.all<{ id: string }>(sql`
      UPDATE flow_runs SET state_name = 'Late', state_timestamp = ${nowIso}, updated = ${nowIso}
      WHERE state_type = 'SCHEDULED' AND state_name = 'Scheduled' AND next_scheduled_start_time < ${cutoff}
      RETURNING id`);
    await history(tx, late, "SCHEDULED", "Late", null, nowIso);

    const skipped = await tx.all<{ id: string; catchup: string }>(sql`
      UPDATE flow_runs SET state_type = 'CANCELLED', state_name = 'Cancelled', end_time = ${nowIso},
        state_message = CASE (SELECT d.catchup FROM deployments d WHERE d.id = flow_runs.deployment_id)
          WHEN 'none' THEN ${SKIPPED.none} ELSE ${SKIPPED.latest} END,
        state_timestamp = ${nowIso}, updated = ${nowIso}
      WHERE id IN (
        SELECT r.id FROM flow_runs r JOIN deployments d ON d.id = r.deployment_id
        WHERE r.auto_scheduled = 1 AND r.state_type = 'SCHEDULED' AND r.next_scheduled_start_time < ${cutoff}
          AND (d.catchup = 'none' OR (d.catchup = 'latest' AND r.next_scheduled_start_time < (
            SELECT max(r2.next_scheduled_start_time) FROM flow_runs r2
            WHERE r2.deployment_id = r.deployment_id AND r2.auto_scheduled = 1 AND r2.state_type = 'SCHEDULED'
              AND r2.next_scheduled_start_time < ${cutoff}))))
      RETURNING id, (SELECT d.catchup FROM deployments d WHERE d.id = flow_runs.deployment_id) AS catchup`);
    for (const policy of ["none", "latest"]) {
      const ids = skipped.filter((s) => s.catchup === policy);
      await history(tx, ids, "CANCELLED", "Cancelled", SKIPPED[policy as "none" | "latest"], nowIso);
    }
    return { late: late.length, skipped: skipped.length };
  });
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

const RUN_COLUMNS = {
  id: "id",
  created: "created",
  updated: "updated",
  name: "name",
  flowId: "flow_id",
  deploymentId: "deployment_id",
  workPoolName: "work_pool_name",
  workQueueName: "work_queue_name",
  parameters: "parameters",
  jobVariables: "job_variables",
  tags: "tags",
  stateType: "state_type",
  stateName: "state_name",
  stateTimestamp: "state_timestamp",
  expectedStartTime: "expected_start_time",
  nextScheduledStartTime: "next_scheduled_start_time",
  totalRunTime: "total_run_time",
  runCount: "run_count",
  autoScheduled: "auto_scheduled",
  scheduleId: "schedule_id",
  idempotencyKey: "idempotency_key",
} as const;

/**
 * Inserts scheduled runs and their first history entry in batches, skipping any whose
 * (deployment, schedule, time) key exists. Plain SQL on the driver: for tens of thousands of rows
 * the query builder's per-value work doubled the pass (measured: 2.1 s vs 0.9 s for 34,000 runs).
 */
async function insertRuns(db: Db, rows: (typeof flowRuns.$inferInsert)[], nowIso: string): Promise<number> {
  const client = (db as Db & { $client: Client }).$client;
  const keys = Object.keys(RUN_COLUMNS) as (keyof typeof RUN_COLUMNS)[];
  const runSql = (n: number) =>
    `INSERT INTO flow_runs (${keys.map((k) => RUN_COLUMNS[k]).join(", ")}) VALUES ${Array(n)
      .fill(`(${keys.map(() => "?").join(", ")})`)
      .join(", ")} ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;
  const value = (v: unknown) =>
    v === undefined
      ? null
      : typeof v === "object" && v !== null
        ? JSON.stringify(v)
        : typeof v === "boolean"
          ? Number(v)
          : v;
  let created = 0;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const tx = await client.transaction("write");
    try {
      const res = await tx.execute({
        sql: runSql(chunk.length),
        args: chunk.flatMap((r) => keys.map((k) => value(r[k])) as never[]),
      });
      const ids = res.rows.map((r) => String(r.id));
      if (ids.length > 0) {
        await tx.execute({
          sql: `INSERT INTO flow_run_states (id, flow_run_id, type, name, message, timestamp, data) VALUES ${Array(
            ids.length,
          )
            .fill("(?, ?, 'SCHEDULED', 'Scheduled', NULL, ?, NULL)")
            .join(", ")}`,
          args: ids.flatMap((id) => [newId(), id, nowIso]),
        });
      }
      await tx.commit();
      created += ids.length;
    } finally {
      tx.close();
    }
  }
  return created;
}

async function history(
  tx: Tx,
  runs: { id: string }[],
  type: string,
  name: string,
  message: string | null,
  at: string,
) {
  for (let i = 0; i < runs.length; i += 500) {
    const chunk = runs.slice(i, i + 500);
    if (chunk.length === 0) continue;
    await tx
      .insert(flowRunStates)
      .values(
        chunk.map((r) => ({ id: newId(), flowRunId: r.id, type, name, message, timestamp: at, data: null })),
      );
  }
}
