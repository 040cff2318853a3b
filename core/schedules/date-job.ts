import type { SchedulerSettings } from "../config/index.ts";
import { nextDates } from "./next-dates.ts";
import { compileSchedule } from "./schedule.ts";
import { selectRunTimes } from "./select-run-times.ts";

/** One question about a schedule's run times, answerable in any thread (plain data in and out). */
export type DateJob =
  | {
      op: "next";
      spec: Record<string, unknown>;
      after: number;
      n: number;
      end?: number;
      timeBoxMs: number;
    }
  | {
      op: "select";
      spec: Record<string, unknown>;
      from: number;
      now: number;
      settings: SchedulerSettings;
      timeBoxMs: number;
    };

export function runDateJob(job: DateJob): number[] {
  const s = compileSchedule(job.spec, "schedule", { timeBoxMs: job.timeBoxMs, minIntervalSeconds: 0 });
  return job.op === "next"
    ? nextDates(s, { after: job.after, n: job.n, end: job.end })
    : selectRunTimes(s, job.from, job.now, job.settings);
}
