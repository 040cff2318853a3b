import { Cron } from "croner";
import { Frequency } from "rrule";
import { didYouMean, WeirError } from "../model/index.ts";
import { parseRRule } from "./rrule-dates.ts";
import { isValidTimezone, knownTimezones } from "./tz.ts";

// Raw schedules as people write them (weir.yaml, API, CLI flags) and as the API returns them,
// in Prefect's shape; compileSchedule() checks one and gives the model nextDates() runs on.

export type ScheduleSpec =
  | { interval: number | string; anchor_date?: string; timezone?: string }
  | { cron: string; timezone?: string; day_or?: boolean }
  | { rrule: string; timezone?: string };

export type Schedule =
  | { kind: "interval"; seconds: number; anchor: number; timezone: string }
  | { kind: "cron"; cron: string; timezone: string; dayOr: boolean }
  | { kind: "rrule"; rrule: string; timezone: string; timeBoxMs?: number };

const KEYS = {
  interval: ["interval", "anchor_date", "timezone"],
  cron: ["cron", "timezone", "day_or"],
  rrule: ["rrule", "timezone"],
};
const ALL_KEYS = [...new Set(Object.values(KEYS).flat())];
const DEFAULT_ANCHOR = "2020-01-01T00:00:00+00:00";

const invalid = (where: string, msg: string) => new WeirError("INVALID", `${where}: ${msg}`);

export interface CompileOptions {
  /** Shortest interval allowed, in seconds (default 1; see Limits.minIntervalSeconds). */
  minIntervalSeconds?: number;
  /** How long expanding an rrule may work (ms) before it stops with an error. */
  timeBoxMs?: number;
}

/**
 * Validates a raw schedule; `where` prefixes messages (e.g. `weir.yaml:7:9: schedule`). The one
 * validator of the API, the file loader and the CLI flags: nothing it refuses is ever stored.
 */
const MAX_INTERVAL_SECONDS = 100 * 365 * 86_400;

export function compileSchedule(raw: unknown, where = "schedule", opts: CompileOptions = {}): Schedule {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw invalid(where, "must be a mapping with one of interval, cron or rrule");
  }
  const spec = raw as Record<string, unknown>;
  const kinds = (["interval", "cron", "rrule"] as const).filter(
    (k) => spec[k] !== undefined && spec[k] !== null,
  );
  if (kinds.length > 1)
    throw invalid(where, `Only one schedule type can be provided (got ${kinds.join(" and ")})`);
  if (kinds.length === 0)
    throw invalid(where, "needs one of interval (seconds or ISO 8601 duration), cron or rrule");
  const kind = kinds[0]!;
  if (kind !== "interval" && spec.anchor_date != null) {
    throw invalid(where, "An anchor date can only be provided with an interval schedule");
  }
  for (const key of Object.keys(spec)) {
    if ((KEYS[kind] as string[]).includes(key)) continue;
    if (ALL_KEYS.includes(key)) {
      throw invalid(
        where,
        `"${key}" does not apply to a ${kind} schedule (it takes: ${KEYS[kind].join(", ")})`,
      );
    }
    const hint = didYouMean(key, KEYS[kind]);
    throw invalid(
      where,
      `unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ` (a ${kind} schedule takes: ${KEYS[kind].join(", ")})`}`,
    );
  }
  const timezone = checkTimezone(spec.timezone, where);
  if (kind === "interval") {
    const seconds = parseIntervalSeconds(spec.interval, where);
    const min = opts.minIntervalSeconds ?? 1;
    if (seconds < min) {
      throw invalid(
        where,
        `interval ${JSON.stringify(spec.interval)} is shorter than the shortest allowed, ${min} s (set by WEIR_MIN_INTERVAL_SECONDS)`,
      );
    }
    // Runs at most a century apart: past that no date computes (1e30 s was stored, then failed).
    if (seconds > MAX_INTERVAL_SECONDS) {
      throw invalid(
        where,
        `interval ${JSON.stringify(spec.interval)} is longer than the longest allowed, ${MAX_INTERVAL_SECONDS} s (100 years)`,
      );
    }
    const anchorRaw = spec.anchor_date ?? DEFAULT_ANCHOR;
    if (typeof anchorRaw !== "string") {
      throw invalid(where, "anchor_date must be an ISO 8601 date-time such as 2024-01-01T09:00:00");
    }
    return { kind, seconds, anchor: parseAnchor(anchorRaw, where), timezone };
  }
  if (kind === "cron") {
    if (typeof spec.cron !== "string") throw invalid(where, 'cron must be a string such as "0 9 * * *"');
    if (spec.day_or !== undefined && typeof spec.day_or !== "boolean")
      throw invalid(where, "day_or must be true or false");
    const cron = spec.cron.trim();
    checkCron(cron, where);
    return { kind, cron, timezone, dayOr: spec.day_or ?? true };
  }
  if (typeof spec.rrule !== "string" || !spec.rrule.trim()) {
    throw invalid(where, 'rrule must be an RFC 5545 string such as "FREQ=DAILY;BYHOUR=9"');
  }
  const { rrule, tzid } = normalizeRRule(spec.rrule);
  const rruleTz = spec.timezone == null && tzid ? checkTimezone(tzid, where) : timezone;
  checkRRule(rrule, where);
  return { kind, rrule, timezone: rruleTz, ...(opts.timeBoxMs ? { timeBoxMs: opts.timeBoxMs } : {}) };
}

/** The canonical raw form stored and returned by the API. */
export function scheduleSpec(s: Schedule): ScheduleSpec {
  if (s.kind === "interval") {
    return { interval: s.seconds, anchor_date: new Date(s.anchor).toISOString(), timezone: s.timezone };
  }
  if (s.kind === "cron") return { cron: s.cron, timezone: s.timezone, day_or: s.dayOr };
  return { rrule: s.rrule, timezone: s.timezone };
}

/**
 * Deployment schedules refuse COUNT, as Prefect does: the scheduler creates runs a few at a
 * time, so a schedule meant to end after N runs would be counted again on every pass.
 */
export function assertDeployable(s: Schedule, where = "schedule"): void {
  if (s.kind === "rrule" && /(^|[;:\n])COUNT=/i.test(s.rrule)) {
    throw invalid(
      where,
      "RRule schedules with COUNT are not supported on deployments (end the schedule with UNTIL instead, or create a fixed number of runs with weir deployment run)",
    );
  }
}

function checkTimezone(tz: unknown, where: string): string {
  if (tz === undefined || tz === null) return "UTC";
  if (typeof tz !== "string" || !isValidTimezone(tz)) {
    const hint = typeof tz === "string" ? didYouMean(tz, knownTimezones()) : undefined;
    throw invalid(
      where,
      `unknown timezone ${JSON.stringify(tz)}${hint ? ` (did you mean "${hint}"?)` : " (use an IANA name such as Europe/Berlin or America/New_York)"}`,
    );
  }
  // Intl takes any case (america/new_york): stored as the zone's own name.
  const named = new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone;
  return named.toLowerCase() === tz.toLowerCase() ? named : tz;
}

const DURATION =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/** Seconds from a number or an ISO 8601 duration (PT10M, P1D, P1DT12H; no years or months). */
export function parseIntervalSeconds(value: unknown, where = "interval"): number {
  let seconds: number;
  if (typeof value === "number") seconds = value;
  else if (typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim())) seconds = Number(value);
  else if (typeof value === "string") {
    const text = value.trim().toUpperCase();
    const m = DURATION.exec(text);
    if (!m || text === "P" || text.endsWith("T")) {
      throw invalid(
        where,
        `interval ${JSON.stringify(value)} is not a number of seconds or an ISO 8601 duration such as PT10M or P1D (years and months have no fixed length)`,
      );
    }
    const [w, d, h, min, s] = m.slice(1).map((x) => Number(x ?? 0)) as [
      number,
      number,
      number,
      number,
      number,
    ];
    seconds = w * 604_800 + d * 86_400 + h * 3600 + min * 60 + s;
  } else throw invalid(where, "interval must be a number of seconds or an ISO 8601 duration such as PT10M");
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw invalid(where, `interval must be more than 0 seconds (got ${JSON.stringify(value)})`);
  }
  return seconds;
}

function parseAnchor(raw: string, where: string): number {
  // A date-time without an offset is UTC (what Prefect does with a naive anchor).
  const withZone = /([zZ]|[+-]\d{2}:?\d{2})$/.test(raw) || !raw.includes("T") ? raw : `${raw}Z`;
  const t = Date.parse(withZone);
  if (Number.isNaN(t)) {
    throw invalid(
      where,
      `anchor_date ${JSON.stringify(raw)} is not an ISO 8601 date-time (example: 2024-01-01T09:00:00-05:00)`,
    );
  }
  return t;
}

const FIELD_NAMES = ["minute", "hour", "day of month", "month", "day of week"];
const newCron = (pattern: string) => new Cron(pattern, { paused: true, mode: "5-part" });

function checkCron(cron: string, where: string): void {
  try {
    newCron(cron);
    return;
  } catch (err) {
    if (cron.startsWith("@")) {
      throw invalid(
        where,
        `cron alias "${cron}" is not known (use @yearly, @monthly, @weekly, @daily or @hourly)`,
      );
    }
    const fields = cron.split(/\s+/);
    if (fields.length !== 5) {
      throw invalid(
        where,
        `cron "${cron}" has ${fields.length} fields; it needs 5: minute hour day-of-month month day-of-week (or an alias such as @daily)`,
      );
    }
    for (const [i, field] of fields.entries()) {
      const probe = ["*", "*", "*", "*", "*"];
      probe[i] = field;
      try {
        newCron(probe.join(" "));
      } catch {
        throw invalid(where, `cron "${cron}": field ${i + 1} (${FIELD_NAMES[i]}) "${field}" is not valid`);
      }
    }
    throw invalid(where, `cron "${cron}" is not valid: ${(err as Error).message}`);
  }
}

/**
 * Parses the rule now (DTSTART, RDATE and EXDATE included), so a rule that cannot be read is never
 * stored, and refuses rules finer than a minute: Prefect's scheduler cannot honour them either, and
 * runs seconds apart belong to an interval schedule.
 */
function checkRRule(rrule: string, where: string): void {
  const text = /(^|\n)DTSTART/i.test(rrule) ? rrule : `DTSTART:20200101T000000\n${rrule}`;
  for (const m of rrule.matchAll(/(?:^|[\n:;])FREQ=([^;\n]*)/gi)) {
    if (!FREQUENCIES.includes(m[1]!.toUpperCase()))
      throw invalid(
        where,
        `FREQ=${m[1]} is not a frequency (use ${FREQUENCIES.slice(0, -1).join(", ")}; SECONDLY is not supported)`,
      );
  }
  if (/(^|\n)(RRULE:)?[^\n:]*=/i.test(rrule) && !/FREQ=/i.test(rrule))
    throw invalid(where, "the rrule has no FREQ= (for example FREQ=DAILY;BYHOUR=9)");
  for (const [part, lo, hi, signed] of RANGES) {
    for (const m of rrule.matchAll(new RegExp(`${part}=([^;\\n]*)`, "gi"))) {
      const bad = m[1]!.split(",").find((x) => {
        const n = Number(x.trim());
        return !/^[+-]?\d+$/.test(x.trim()) || Math.abs(n) < lo || Math.abs(n) > hi || (!signed && n < 0);
      });
      if (bad !== undefined)
        throw invalid(
          where,
          `${part}=${m[1]}: "${bad}" is not allowed (use ${signed ? "±" : ""}${lo} to ${hi})`,
        );
    }
  }
  for (const m of rrule.matchAll(/BYDAY=([^;\n]*)/gi)) {
    const bad = m[1]!.split(",").find((d) => !/^[+-]?\d{0,2}(MO|TU|WE|TH|FR|SA|SU)$/i.test(d.trim()));
    if (bad !== undefined)
      throw invalid(
        where,
        `BYDAY=${m[1]}: "${bad}" is not a weekday (use MO, TU, WE, TH, FR, SA, SU, optionally with a position such as 1MO or -1FR)`,
      );
  }
  let parsed: ReturnType<typeof parseRRule>;
  try {
    parsed = parseRRule(text);
  } catch (err) {
    const why = (err as Error).message
      .replace(/^rrule ".*?" is not valid: /s, "")
      .replace(
        /^Invalid UNTIL value: (.*)$/s,
        '"$1" is not a date-time such as 20240131T090000 (DTSTART, UNTIL, RDATE and EXDATE take this form)',
      );
    throw invalid(where, `rrule ${JSON.stringify(rrule.replace(/^RRULE:/, ""))} is not valid: ${why}`);
  }
  if (parsed.rules.length === 0 && parsed.rdates.length === 0)
    throw invalid(where, "the rrule has neither an RRULE nor an RDATE line, so it never runs");
  for (const r of [...parsed.rules, ...parsed.exrules]) {
    if (r.options.freq === Frequency.SECONDLY) {
      throw invalid(
        where,
        "rrules finer than MINUTELY (FREQ=SECONDLY) are not supported: runs less than a minute apart belong to an interval schedule (interval: SECONDS)",
      );
    }
    if ((r.options.bysecond?.length ?? 0) > 1) {
      throw invalid(
        where,
        `BYSECOND=${r.options.bysecond!.join(",")} puts runs less than a minute apart, which rrules do not support: use an interval schedule (interval: SECONDS)`,
      );
    }
  }
}

/** Numeric rule parts: allowed magnitude, and whether counting from the end (negative) is allowed. */
const RANGES: [string, number, number, boolean][] = [
  ["BYSECOND", 0, 59, false],
  ["BYMINUTE", 0, 59, false],
  ["BYHOUR", 0, 23, false],
  ["BYMONTH", 1, 12, false],
  ["BYMONTHDAY", 1, 31, true],
  ["BYYEARDAY", 1, 366, true],
  ["BYWEEKNO", 1, 53, true],
  ["BYSETPOS", 1, 366, true],
  ["INTERVAL", 1, 1_000_000, false],
  ["COUNT", 1, 1_000_000, false],
];

const FREQUENCIES = ["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY"];

/** Bare `FREQ=` lines get their RRULE: prefix; a DTSTART;TZID=... becomes floating plus a zone. */
function normalizeRRule(raw: string): { rrule: string; tzid: string | null } {
  let tzid: string | null = null;
  const lines = raw
    .trim()
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^DTSTART;TZID=([^:]+):(\d{8}T\d{6})Z?$/i.exec(l);
      if (m) {
        tzid = m[1]!;
        return `DTSTART:${m[2]}`;
      }
      return /^FREQ=/i.test(l) ? `RRULE:${l}` : l;
    });
  return { rrule: lines.join("\n"), tzid };
}
