import { Frequency, RRule, RRuleSet, rrulestr } from "rrule";
import { WeirError } from "../model/index.ts";

// RRULE expansion with bounded work. rrule.js walks every period from DTSTART, so a rule anchored
// years back (FREQ=MINUTELY since 2020: millions of periods) or one that never matches
// (FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30) could block the process for minutes. Here each rule's
// DTSTART is moved forward by whole periods to just before the window asked for (which keeps the
// same occurrences), windows are a few hundred periods long, and the clock is checked between
// windows: past the time box the expansion stops with an error instead of stalling the caller.

/** How long one expansion may work before it gives up (ms). */
export const RRULE_TIME_BOX_MS = 1000;

/** Floating time (wall clock read as UTC) of each frequency's period, for windows and shifts. */
const PERIOD_MS: Partial<Record<Frequency, number>> = {
  [Frequency.SECONDLY]: 1000,
  [Frequency.MINUTELY]: 60_000,
  [Frequency.HOURLY]: 3_600_000,
  [Frequency.DAILY]: 86_400_000,
  [Frequency.WEEKLY]: 7 * 86_400_000,
};
/** Window length per frequency: a few hundred periods, and never less than a day. */
const WINDOW_MS: Record<Frequency, number> = {
  [Frequency.SECONDLY]: 5 * 60_000,
  [Frequency.MINUTELY]: 6 * 3_600_000,
  [Frequency.HOURLY]: 20 * 86_400_000,
  [Frequency.DAILY]: 366 * 86_400_000,
  [Frequency.WEEKLY]: 5 * 366 * 86_400_000,
  [Frequency.MONTHLY]: 25 * 366 * 86_400_000,
  [Frequency.YEARLY]: 200 * 366 * 86_400_000,
};
const END_OF_TIME = Date.UTC(9999, 0, 1);

export interface ParsedRRule {
  rules: RRule[];
  exrules: RRule[];
  rdates: Date[];
  exdates: Date[];
  /** The finest frequency among the rules (it sets the window length). */
  freq: Frequency;
  /** A rule with COUNT counts from its DTSTART, so it is never moved. */
  counted: boolean;
}

const parsed = new Map<string, ParsedRRule>();

/** Parses an RRULE text (with DTSTART, RDATE, EXDATE lines); throws INVALID naming the problem. */
export function parseRRule(text: string): ParsedRRule {
  const hit = parsed.get(text);
  if (hit) return hit;
  let set: RRuleSet;
  try {
    set = rrulestr(text, { forceset: true }) as RRuleSet;
  } catch (err) {
    throw new WeirError("INVALID", `rrule ${JSON.stringify(text)} is not valid: ${(err as Error).message}`);
  }
  const rules = set.rrules();
  const all = [...rules, ...set.exrules()];
  for (const r of all) {
    if (Number.isNaN(r.options.dtstart.getTime()))
      throw new WeirError("INVALID", `rrule ${JSON.stringify(text)} has a DTSTART that is not a date-time`);
  }
  for (const d of [...set.rdates(), ...set.exdates()]) {
    if (Number.isNaN(d.getTime()))
      throw new WeirError(
        "INVALID",
        `rrule ${JSON.stringify(text)} has an RDATE or EXDATE that is not a date-time`,
      );
  }
  const p: ParsedRRule = {
    rules,
    exrules: set.exrules(),
    rdates: set.rdates(),
    exdates: set.exdates(),
    freq: rules.length ? Math.max(...rules.map((r) => r.options.freq)) : Frequency.YEARLY,
    counted: all.some((r) => r.options.count != null),
  };
  if (parsed.size > 10_000) parsed.clear();
  parsed.set(text, p);
  return p;
}

/** The latest start, by whole periods of the rule from its DTSTART, at or before `target`. */
function shiftedStart(rule: RRule, target: number): Date {
  const o = rule.options;
  const start = o.dtstart;
  const t0 = start.getTime();
  if (target <= t0) return start;
  const k = Math.max(1, o.interval || 1);
  const period = PERIOD_MS[o.freq];
  if (period) return new Date(t0 + Math.floor((target - t0) / (period * k)) * period * k);
  // Months and years: same day of month and time, stepping back while that day does not exist.
  const months = o.freq === Frequency.MONTHLY ? 1 : 12;
  const t = new Date(target);
  const diff = (t.getUTCFullYear() - start.getUTCFullYear()) * 12 + (t.getUTCMonth() - start.getUTCMonth());
  for (let steps = Math.floor(diff / (months * k)); steps > 0; steps--) {
    const m = start.getUTCMonth() + steps * months * k;
    const d = new Date(
      Date.UTC(
        start.getUTCFullYear(),
        m,
        start.getUTCDate(),
        start.getUTCHours(),
        start.getUTCMinutes(),
        start.getUTCSeconds(),
      ),
    );
    if (d.getUTCDate() === start.getUTCDate() && d.getTime() <= target) return d;
  }
  return start;
}

const moved = (rule: RRule, target: number) =>
  new RRule({ ...rule.origOptions, dtstart: shiftedStart(rule, target) });

/**
 * Floating wall-clock dates of the rule in [from, to], at most `n`, ascending. Throws INVALID
 * (fields.reason "time_box") when the work passes the time box before `n` dates or `to` is reached.
 */
export function floatingDates(
  p: ParsedRRule,
  from: number,
  to: number,
  n: number,
  timeBoxMs = RRULE_TIME_BOX_MS,
  /** The instant the caller asked from, for the message (`from` may start earlier, as slack). */
  askedAfter?: number,
): Date[] {
  const out: Date[] = [];
  const last = Math.min(to, END_OF_TIME);
  const started = performance.now();
  if (p.counted) {
    // COUNT is counted from DTSTART, so the rule is expanded as written (bounded by COUNT).
    const set = buildSet(p, (r) => r);
    return set.between(new Date(from), new Date(last), true, (_d, i) => i < n);
  }
  for (let winStart = from, width = WINDOW_MS[p.freq]; winStart <= last; winStart += width + 1) {
    const winEnd = Math.min(winStart + width, last);
    const set = buildSet(p, (r) => moved(r, winStart));
    for (const d of set.between(new Date(winStart), new Date(winEnd), true, (_d, i) => i < n - out.length)) {
      out.push(d);
    }
    if (out.length >= n || winEnd >= last) break;
    if (performance.now() - started > timeBoxMs) {
      throw new WeirError(
        "INVALID",
        `expanding this rrule took over ${timeBoxMs} ms (WEIR_SCHEDULE_TIME_BOX_MS) before it found ${out.length ? `more than ${out.length} run time(s)` : "a run time"} after ${askedAfter === undefined ? new Date(from).toISOString().slice(0, 19) : new Date(askedAfter).toISOString()}: it may never match; simplify it, or use a cron or interval schedule`,
        { fields: { reason: "time_box" } },
      );
    }
  }
  return out;
}

function buildSet(p: ParsedRRule, each: (r: RRule) => RRule): RRuleSet {
  const set = new RRuleSet();
  for (const r of p.rules) set.rrule(each(r));
  for (const r of p.exrules) set.exrule(each(r));
  for (const d of p.rdates) set.rdate(d);
  for (const d of p.exdates) set.exdate(d);
  return set;
}
