import type { Command } from "@commander-js/extra-typings";
import { positiveInt } from "./lib/options.ts";
import { type ScheduleFlags, withScheduleFlags } from "./lib/schedule-flags.ts";

export function register(program: Command): void {
  const cmd = program.command("schedule").description("Check schedules before you deploy them");
  withScheduleFlags(
    cmd.command("preview").description("Print the next run times of a schedule, in its timezone"),
  )
    .option("--after <iso>", "first time to consider (default: now)")
    .option("-n, --count <n>", "how many run times (at most 1000)", positiveInt("--count", 1000), 5)
    .option("--json", "print a JSON array of ISO 8601 strings")
    .action(async (...args: unknown[]) => {
      const opts = args[0] as ScheduleFlags & { after?: string; count: number; json?: boolean };
      const { WeirError } = await import("../core/model/index.ts");
      const { compileSchedule, DateExpander, formatInZone } = await import("../core/schedules/index.ts");
      const { loadConfig } = await import("../core/config/index.ts");
      const { scheduleFromFlags } = await import("./lib/schedule-flags.ts");
      const raw = await scheduleFromFlags(opts);
      if (!raw)
        throw new WeirError(
          "USAGE",
          "Give a schedule: --cron EXPR, --interval SECONDS|DURATION or --rrule RULE",
        );
      const s = compileSchedule(raw);
      const after = opts.after ? Date.parse(opts.after) : Date.now();
      if (Number.isNaN(after))
        throw new WeirError("USAGE", `--after "${opts.after}" is not an ISO 8601 date-time`);
      // time-boxed, like the scheduler: a rule that never matches says so instead of hanging
      const expander = new DateExpander(loadConfig().limits.scheduleTimeBoxMs);
      let times: number[];
      try {
        times = await expander.next(raw, { after, n: opts.count });
      } catch (err) {
        if (!(err instanceof WeirError && err.code === "INVALID")) throw err;
        const flag = opts.cron ? "--cron" : opts.interval ? "--interval" : "--rrule";
        throw new WeirError("USAGE", `${flag}: ${err.message}`);
      } finally {
        expander.close();
      }
      const dates = times.map((t) => formatInZone(t, s.timezone));
      if (opts.json) console.log(JSON.stringify(dates));
      else for (const d of dates) console.log(d);
    });
}
