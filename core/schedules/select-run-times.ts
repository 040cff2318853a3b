import type { SchedulerSettings } from "../config/index.ts";
import { iterateDates } from "./next-dates.ts";
import type { Schedule } from "./schedule.ts";

/**
 * The times a schedule needs from `from`: every missed one (up to maxRuns), then future ones until
 * both minimums are met (at least minRuns, and reaching minTime ahead), within maxRuns and maxTime.
 * This is Prefect's rule, with the date that meets the minimums kept.
 */
export function selectRunTimes(
  schedule: Schedule,
  from: number,
  now: number,
  settings: SchedulerSettings,
): number[] {
  const out: number[] = [];
  let past = 0;
  let future = 0;
  let lastFuture = Number.NEGATIVE_INFINITY;
  for (const t of iterateDates(schedule, from, now + settings.maxTimeMs)) {
    if (t < now) {
      if (++past > settings.maxRuns) continue;
    } else {
      if (future >= settings.maxRuns) break;
      if (future >= settings.minRuns && lastFuture >= now + settings.minTimeMs) break;
      future++;
      lastFuture = t;
    }
    out.push(t);
  }
  return out;
}
