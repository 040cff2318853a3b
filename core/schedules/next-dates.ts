import { Cron } from "croner";
import { floatingDates, parseRRule } from "./rrule-dates.ts";
import { compileSchedule, type Schedule } from "./schedule.ts";
import { addLocalDays, instantOf, wallAt } from "./tz.ts";

export interface DateQuery {
  /** Inclusive lower bound (epoch ms). */
  after: number;
  /** Most dates to return. */
  n: number;
  /** Inclusive upper bound (epoch ms). */
  end?: number;
}

/** The next `n` run times of a schedule at or after `after` (epoch ms, ascending). */
export function nextDates(s: Schedule, q: DateQuery): number[] {
  const out: number[] = [];
  if (q.n <= 0) return out;
  for (const t of iterateDates(s, q.after, q.end)) {
    out.push(t);
    if (out.length >= q.n) break;
  }
  return out;
}

/**
 * Run times at or after `after` (and up to `end`), computed one at a time, so a caller that stops
 * early (the scheduler, once its minimums are met) pays only for what it uses.
 */
export function* iterateDates(s: Schedule, after: number, end = Number.POSITIVE_INFINITY): Generator<number> {
  if (s.kind === "interval") {
    yield* intervalDates(s, after, end);
  } else if (s.kind === "cron") {
    const job = cronJob(s);
    let prev = new Date(after - 1);
    for (;;) {
      const next = job.nextRun(prev);
      if (!next || next.getTime() > end) return;
      if (next.getTime() >= after) yield next.getTime();
      prev = next;
    }
  } else {
    // rrule expansion is cheapest in batches
    let from = after;
    for (let batch = 16; ; batch = Math.min(batch * 4, 4096)) {
      const dates = rruleDates(s, from, batch, end);
      yield* dates;
      if (dates.length < batch) return;
      from = dates[dates.length - 1]! + 1;
    }
  }
}

/**
 * Intervals of whole days step in calendar days of the schedule's zone (09:00 stays 09:00 across
 * DST); the rest of an interval, and all sub-day intervals, step in absolute time. Every date is
 * computed from the anchor, so a shifted date (DST gap) never shifts the ones after it.
 */
function* intervalDates(
  s: Extract<Schedule, { kind: "interval" }>,
  after: number,
  end: number,
): Generator<number> {
  const days = Math.floor(s.seconds / 86_400);
  const restMs = (s.seconds - days * 86_400) * 1000;
  const at = (k: number) =>
    days > 0 ? addLocalDays(s.anchor, s.timezone, k * days) + k * restMs : s.anchor + k * s.seconds * 1000;
  let k = Math.trunc((after - s.anchor) / (s.seconds * 1000)) - 1;
  while (at(k) < after) k++;
  for (let t = at(k); t <= end; t = at(++k)) yield t;
}

const crons = new Map<string, Cron>();

function cronJob(s: Extract<Schedule, { kind: "cron" }>): Cron {
  const key = `${s.cron}|${s.timezone}|${s.dayOr}`;
  let job = crons.get(key);
  if (!job) {
    // A fixed-time job (no wildcard in minute/hour) in a DST gap runs right after the gap and runs
    // once in a repeated hour; wildcard jobs follow the clock (Vixie cron's rule).
    job = new Cron(s.cron, {
      paused: true,
      mode: "5-part",
      timezone: s.timezone,
      domAndDow: !s.dayOr,
      fixedTimeRule: "no-wildcard",
    });
    if (crons.size > 10_000) crons.clear();
    crons.set(key, job);
  }
  return job;
}

const floating = (instant: number, tz: string): Date => {
  const w = wallAt(instant, tz);
  return new Date(Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second));
};

/**
 * RRULEs are expanded in floating wall-clock time of the schedule's zone (DTSTART carries no
 * zone), then each wall time is placed in the zone: a repeated hour counts once, a skipped one
 * moves past the gap. Without DTSTART the rule is anchored at 2020-01-01 00:00, so results do not
 * depend on when they are asked for. The work is time-boxed (see rrule-dates.ts).
 */
function rruleDates(
  s: Extract<Schedule, { kind: "rrule" }>,
  after: number,
  n: number,
  end: number,
): number[] {
  const text = /(^|\n)DTSTART/i.test(s.rrule) ? s.rrule : `DTSTART:20200101T000000\n${s.rrule}`;
  const from = floating(after, s.timezone);
  const to = Number.isFinite(end) ? floating(end, s.timezone).getTime() : Number.POSITIVE_INFINITY;
  const out: number[] = [];
  const rule = parseRRule(text);
  // A day of slack before `after`: some wall times land on or after it once placed in the zone.
  // Wall times inside the slack are skipped, so the expansion continues until n are found.
  let cursor = from.getTime() - 86_400_000;
  for (;;) {
    const want = n - out.length + 48;
    const walls = floatingDates(rule, cursor, to, want, s.timeBoxMs, after);
    for (const d of walls) {
      const t = instantOf(
        {
          year: d.getUTCFullYear(),
          month: d.getUTCMonth() + 1,
          day: d.getUTCDate(),
          hour: d.getUTCHours(),
          minute: d.getUTCMinutes(),
          second: d.getUTCSeconds(),
        },
        s.timezone,
      );
      if (t < after || t > end || out.includes(t)) continue;
      out.push(t);
      if (out.length >= n) return out;
    }
    if (walls.length < want) return out;
    cursor = walls[walls.length - 1]!.getTime() + 1;
  }
}

/** Whether a schedule can still produce dates after `after` (an rrule with UNTIL may be over). */
export function hasDatesAfter(s: Schedule, after: number): boolean {
  return nextDates(s, { after, n: 1 }).length > 0;
}

/**
 * Why a valid schedule will make no runs, or null: it has no date from now on (a cron of
 * February 30th, an rrule whose UNTIL has passed). Accepted, as Prefect accepts them, but said.
 * A schedule that cannot be checked here (it fails to compile) is left to the checks that name
 * its problem.
 */
export function runlessNote(spec: unknown, now = Date.now()): string | null {
  try {
    return hasDatesAfter(compileSchedule(spec), now)
      ? null
      : "has no run time from now on (it never matches, or its end has passed), so it will make no runs";
  } catch {
    return null;
  }
}
