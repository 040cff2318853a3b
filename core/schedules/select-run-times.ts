import type { SchedulerSettings } from "../config/index.ts";
import { iterateDates } from "./next-dates.ts";
import type { Schedule } from "./schedule.ts";

/**
 * The times a schedule needs from `from`: the missed ones (the latest maxRuns of them: after a
 * long outage, `catchup: latest` must find the most recent missed time, not the oldest), then
 * future ones until both minimums are met (at least minRuns, and reaching minTime ahead), within
 * maxRuns and maxTime. This is Prefect's rule, with the date that meets the minimums kept.
 */
export function selectRunTimes(
  schedule: Schedule,
  from: number,
  now: number,
  settings: SchedulerSettings,
): number[] {
  const past: number[] = [];
  const out: number[] = [];
  let future = 0;
  let lastFuture = Number.NEGATIVE_INFINITY;
  for (const t of iterateDates(schedule, from, now + settings.maxTimeMs)) {
    if (t < now) {
      past.push(t);
      if (past.length > settings.maxRuns) past.shift();
      continue;
    }
    if (future >= settings.maxRuns) break;
    if (future >= settings.minRuns && lastFuture >= now + settings.minTimeMs) break;
    future++;
    lastFuture = t;
    out.push(t);
  }
  return [...past, ...out];
}
