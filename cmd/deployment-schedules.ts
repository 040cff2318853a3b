import type { Command } from "@commander-js/extra-typings";
import type { Deployment } from "../core/model/index.ts";
import { client } from "./lib/options.ts";
import { printJson, printTable } from "./lib/output.ts";
import { type ScheduleFlags, scheduleFromFlags, withScheduleFlags } from "./lib/schedule-flags.ts";

const describeSpec = (s: Record<string, unknown>) => {
  const tz = s.timezone && s.timezone !== "UTC" ? ` (${s.timezone})` : "";
  if (s.cron) return `cron ${s.cron}${tz}${s.day_or === false ? " day_or=false" : ""}`;
  if (s.interval) return `every ${s.interval}s${tz}`;
  return `rrule ${String(s.rrule).replace(/\n/g, " ")}${tz}`;
};

/** What keeps a deployment's active schedules from making runs, if anything: said after changing one. */
const pausedNote = (d: Deployment) =>
  d.paused
    ? `; the deployment itself is paused, so no schedule makes runs until: weir deployment resume ${d.flow_name}/${d.name}`
    : !d.is_schedule_active
      ? `; its schedules are paused, so none makes runs until: weir deployment resume-schedule ${d.flow_name}/${d.name}`
      : "";

/** Says so when a schedule just stored will make no runs (see runlessNote). */
async function warnRunless(spec: Record<string, unknown>): Promise<void> {
  const { runlessNote } = await import("../core/schedules/index.ts");
  const note = runlessNote(spec);
  if (note) console.log(`  note: this schedule ${note}`);
}

/** `weir deployment set-schedule|pause-schedule|resume-schedule` and `weir deployment schedule ...`. */
export function registerScheduleCommands(deployment: Command): void {
  withScheduleFlags(
    deployment
      .command("set-schedule")
      .description("Replace a deployment's schedules with one (or none with --no-schedule)")
      .argument("<deployment>", "FLOW/NAME or id"),
  )
    .option("--no-schedule", "remove every schedule")
    .action(async (...args: unknown[]) => {
      const [ref, opts] = args as [string, ScheduleFlags & { schedule?: boolean }];
      const { WeirError } = await import("../core/model/index.ts");
      const c = client();
      const d = await c.getDeployment(ref);
      const raw = await scheduleFromFlags(opts);
      if (opts.schedule === false) {
        if (raw)
          throw new WeirError("USAGE", "--no-schedule cannot be combined with --cron, --interval or --rrule");
        await c.deleteSchedules(d.id);
        return console.log(`Removed every schedule of ${d.flow_name}/${d.name}`);
      }
      if (!raw)
        throw new WeirError("USAGE", "Give --cron, --interval or --rrule (or --no-schedule to remove them)");
      const updated = await c.replaceSchedules(d.id, [{ schedule: raw }]);
      console.log(
        `${d.flow_name}/${d.name} now runs on: ${updated.schedules.map((s) => describeSpec(s.schedule)).join("; ")}${pausedNote(updated)}`,
      );
      await warnRunless(raw);
    });

  for (const [verb, active] of [
    ["pause-schedule", false],
    ["resume-schedule", true],
  ] as const) {
    deployment
      .command(verb)
      .description(`${active ? "Resume" : "Pause"} all of a deployment's schedules`)
      .argument("<deployment>", "FLOW/NAME or id")
      .action(async (ref) => {
        const c = client();
        const d = await c.getDeployment(ref);
        await c.setDeploymentScheduleActive(d.id, active);
        console.log(
          `Schedules of ${d.flow_name}/${d.name} ${active ? "resumed" : "paused"}${active ? pausedNote({ ...d, is_schedule_active: true }) : ""}`,
        );
      });
  }

  const sched = deployment.command("schedule").description("Manage each schedule of a deployment");
  sched
    .command("ls")
    .alias("list")
    .description("List a deployment's schedules")
    .argument("<deployment>", "FLOW/NAME or id")
    .option("--json", "print JSON")
    .action(async (ref, opts) => {
      const d = await client().getDeployment(ref);
      if (opts.json) return printJson(d.schedules);
      if (d.schedules.length === 0) return console.log(`${d.flow_name}/${d.name} has no schedules`);
      printTable(
        ["ID", "SLUG", "SCHEDULE", "ACTIVE", "MAX ACTIVE", "CATCHUP"],
        d.schedules.map((s) => [
          s.id,
          s.slug ?? "-",
          describeSpec(s.schedule),
          s.active && d.is_schedule_active ? "yes" : "no",
          s.max_active_runs == null ? "-" : String(s.max_active_runs),
          // A schedule's own false wins; otherwise the deployment's policy applies.
          s.catchup === false ? "no" : d.catchup,
        ]),
      );
      for (const s of d.schedules.filter((x) => x.error))
        console.log(`\nSchedule ${s.slug ?? s.id} gets no runs: ${s.error}`);
    });

  withScheduleFlags(
    sched.command("create").description("Add a schedule").argument("<deployment>", "FLOW/NAME or id"),
  )
    .option("--slug <slug>", "a name for the schedule, unique in the deployment")
    .option("--inactive", "create it paused")
    .action(async (...args: unknown[]) => {
      const [ref, opts] = args as [string, ScheduleFlags & { slug?: string; inactive?: boolean }];
      const { WeirError } = await import("../core/model/index.ts");
      const raw = await scheduleFromFlags(opts);
      if (!raw) throw new WeirError("USAGE", "Give --cron, --interval or --rrule");
      const c = client();
      const d = await c.getDeployment(ref);
      const s = await c.createSchedule(d.id, { schedule: raw, slug: opts.slug, active: !opts.inactive });
      console.log(`Added schedule ${s.id} (${describeSpec(s.schedule)}) to ${d.flow_name}/${d.name}`);
      await warnRunless(raw);
    });

  for (const [verb, active] of [
    ["pause", false],
    ["resume", true],
  ] as const) {
    sched
      .command(verb)
      .description(`${active ? "Resume" : "Pause"} one schedule`)
      .argument("<deployment>", "FLOW/NAME or id")
      .argument("<schedule>", "schedule id or slug")
      .action(async (ref, id) => {
        const c = client();
        const d = await c.getDeployment(ref);
        await c.setScheduleActive(d.id, id, active);
        console.log(
          `Schedule ${id} of ${d.flow_name}/${d.name} ${active ? "resumed" : "paused"}${active ? pausedNote(d) : ""}`,
        );
      });
  }

  sched
    .command("delete")
    .description("Delete one schedule (its runs that have not started go too)")
    .argument("<deployment>", "FLOW/NAME or id")
    .argument("<schedule>", "schedule id or slug")
    .action(async (ref, id) => {
      const c = client();
      const d = await c.getDeployment(ref);
      await c.deleteSchedules(d.id, id);
      console.log(`Deleted schedule ${id} of ${d.flow_name}/${d.name}`);
    });

  sched
    .command("clear")
    .description("Delete every schedule of a deployment")
    .argument("<deployment>", "FLOW/NAME or id")
    .action(async (ref) => {
      const c = client();
      const d = await c.getDeployment(ref);
      await c.deleteSchedules(d.id);
      console.log(`Deleted every schedule of ${d.flow_name}/${d.name}`);
    });
}
