import { DEFAULT_SCHEDULER_SETTINGS, type SchedulerSettings } from "../config/index.ts";
import { describeError, randomRunName } from "../model/index.ts";
import { DateExpander } from "../schedules/index.ts";
import { newId, type ScheduledRun, type Store } from "../store/index.ts";

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
  store: Store,
  settings: SchedulerSettings = DEFAULT_SETTINGS,
  opts: { now?: number; deploymentIds?: string[]; expander?: DateExpander } = {},
): Promise<PassResult> {
  const expander = opts.expander ?? new DateExpander(1000);
  let failed = 0;
  const started = performance.now();
  const now = opts.now ?? Date.now();
  const nowIso = new Date(now).toISOString();
  const minEnd = new Date(now + settings.minTimeMs).toISOString();
  const candidates = await store.scheduleCandidates({
    now: nowIso,
    minRuns: settings.minRuns,
    minEnd,
    deploymentIds: opts.deploymentIds,
  });

  const rows: ScheduledRun[] = [];
  // What each schedule was when its runs were computed: the insert skips those changed since.
  const versions = new Map(candidates.map((c) => [c.id, c.updated]));
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
    const key = `${from}|${JSON.stringify(c.schedule)}`;
    if (!selected.has(key))
      selected.set(key, (async () => expander.select(c.schedule, from, now, settings))());
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
    const params = { ...c.d_parameters, ...c.parameters };
    const tags = [...new Set([...c.d_tags, "auto-scheduled"])];
    const jobVariables = c.d_job_variables;
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

  const created = await store.insertScheduledRuns(rows, nowIso, versions);
  if (errors.size > 0) await store.setScheduleErrors(errors);
  // Runs still SCHEDULED well after their time become Late; then each deployment's catch-up
  // policy applies to its missed auto-scheduled runs (all / latest / none).
  const { late, skipped } = await store.markLateAndCatchUp({
    now: nowIso,
    cutoff: new Date(now - settings.lateAfterMs).toISOString(),
    messages: SKIPPED,
  });
  return {
    schedulesChecked: candidates.length,
    created,
    late,
    skipped,
    failed,
    ms: performance.now() - started,
  };
}
