import type { Command } from "@commander-js/extra-typings";
import { WeirError } from "../../core/model/index.ts";

export interface ScheduleFlags {
  cron?: string;
  interval?: string;
  rrule?: string;
  timezone?: string;
  anchorDate?: string;
  dayOr?: boolean;
}

/** Adds --cron/--interval/--rrule/--timezone/--anchor-date/--day-or to a command. */
export function withScheduleFlags<C extends Command<any, any, any>>(cmd: C) {
  return cmd
    .option("--cron <expr>", 'cron expression, e.g. "0 9 * * 1-5" (or @daily)')
    .option("--interval <every>", "interval in seconds or as an ISO 8601 duration (PT10M, P1D)")
    .option("--rrule <rule>", 'RFC 5545 rule, e.g. "FREQ=WEEKLY;BYDAY=MO"')
    .option("--timezone <tz>", "IANA timezone the schedule runs in (default UTC)")
    .option("--anchor-date <iso>", "with --interval: when the interval grid starts")
    .option("--day-or", "with --cron: day-of-month OR day-of-week (default)")
    .option("--no-day-or", "with --cron: day-of-month AND day-of-week");
}

/**
 * The schedule the flags describe, checked and in canonical form, or null when none of
 * --cron/--interval/--rrule is given. A bad value is a usage error (exit 2) naming the flag.
 */
export async function scheduleFromFlags(f: ScheduleFlags): Promise<Record<string, unknown> | null> {
  const raw = rawSchedule(f);
  if (!raw) return null;
  const { assertDeployable, compileSchedule, scheduleSpec } = await import("../../core/schedules/index.ts");
  const flag = f.cron ? "--cron" : f.interval ? "--interval" : "--rrule";
  try {
    const compiled = compileSchedule(raw, flag);
    assertDeployable(compiled, flag);
    return scheduleSpec(compiled) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof WeirError && err.code === "INVALID")
      // A timezone's mistake is --timezone's, whichever schedule flag it came with.
      throw new WeirError(
        "USAGE",
        /unknown timezone/.test(err.message) ? err.message.replace(`${flag}: `, "--timezone: ") : err.message,
      );
    throw err;
  }
}

function rawSchedule(f: ScheduleFlags): Record<string, unknown> | null {
  const kinds = [f.cron && "--cron", f.interval && "--interval", f.rrule && "--rrule"].filter(Boolean);
  if (kinds.length > 1)
    throw new WeirError("USAGE", `Only one schedule type can be provided (got ${kinds.join(" and ")})`);
  if (kinds.length === 0) {
    if (f.timezone || f.anchorDate)
      throw new WeirError("USAGE", "--timezone and --anchor-date need --cron, --interval or --rrule");
    return null;
  }
  if (f.anchorDate && !f.interval)
    throw new WeirError(
      "USAGE",
      "An anchor date can only be provided with an interval schedule (--interval)",
    );
  const tz = f.timezone ? { timezone: f.timezone } : {};
  if (f.cron) return { cron: f.cron, ...tz, ...(f.dayOr === undefined ? {} : { day_or: f.dayOr }) };
  if (f.interval) {
    const n = Number(f.interval);
    return {
      interval: Number.isFinite(n) ? n : f.interval,
      ...tz,
      ...(f.anchorDate ? { anchor_date: f.anchorDate } : {}),
    };
  }
  return { rrule: f.rrule!, ...tz };
}
