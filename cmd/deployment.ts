import type { Command } from "@commander-js/extra-typings";
import { registerLegacyCommands } from "./deployment-legacy.ts";
import { registerScheduleCommands } from "./deployment-schedules.ts";
import { client, collect } from "./lib/options.ts";
import { ago, bold, dim, green, printJson, printTable, red, yellow } from "./lib/output.ts";

export function register(program: Command): void {
  const cmd = program.command("deployment").description("List, inspect, run and delete deployments");

  cmd
    .command("ls")
    .alias("list")
    .description("List deployments")
    .option("--flow <name>", "only this flow's deployments")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const list = await client().listDeployments(opts.flow);
      if (opts.json) return printJson(list);
      if (list.length === 0) return console.log("No deployments yet (create some with: weir deploy --all)");
      printTable(
        ["NAME", "POOL/QUEUE", "ENTRYPOINT", "UPDATED", "ID"],
        list.map((d) => [
          `${d.flow_name}/${d.name}${d.paused ? " (paused)" : ""}`,
          d.work_pool_name ? `${d.work_pool_name}/${d.work_queue_name}` : "-",
          d.entrypoint ?? "-",
          ago(d.updated),
          [d.id, dim],
        ]),
      );
    });

  cmd
    .command("inspect")
    .description("Show a deployment")
    .argument("<deployment>", "FLOW/NAME or id")
    .option("--json", "print JSON")
    .action(async (ref, opts) => {
      const d = await client().getDeployment(ref);
      if (opts.json) return printJson(d);
      const { printFields } = await import("./lib/output.ts");
      printFields([
        ["Deployment", `${d.flow_name}/${d.name}${d.paused ? " (paused)" : ""}`],
        ["Id", d.id],
        ["Entrypoint", `${d.entrypoint ?? "-"} (in ${d.path ?? "-"})`],
        [
          "Pool / queue",
          d.work_pool_name ? `${d.work_pool_name} / ${d.work_queue_name}` : "- (no agent will take its runs)",
        ],
        ["Version", d.version ?? "-"],
        ["Description", d.description ?? "-"],
        ["Tags", d.tags.join(", ") || "-"],
        ["Parameters", JSON.stringify(d.parameters)],
        [
          "Schedules",
          d.schedules.length
            ? d.schedules
                .map(
                  (s) =>
                    `${JSON.stringify(s.schedule)}${s.max_active_runs != null ? ` (max_active_runs ${s.max_active_runs})` : ""}${s.catchup === false ? " (catchup: false)" : ""}${s.active && d.is_schedule_active ? "" : " (paused)"}${s.error ? ` (gets no runs: ${s.error})` : ""}`,
                )
                .join("; ")
            : "-",
        ],
        [
          "Concurrency limit",
          d.concurrency_limit
            ? `${d.concurrency_limit.limit} (${d.concurrency_limit.collision_strategy})`
            : "none",
        ],
        ["Catchup", d.catchup],
        ["Pull steps", d.pull_steps?.map((st) => Object.keys(st as object)[0]).join(", ") || "-"],
        ["Updated", d.updated],
      ]);
    });

  cmd
    .command("run")
    .description("Create a flow run of a deployment; parameters are validated before the run exists")
    .argument("<deployment>", "FLOW/NAME or id")
    .option("--param <name=value>", "parameter, value read as JSON else text (repeatable)", collect)
    .option("--params <json>", "parameters as a JSON object")
    .option("-t, --tag <tag>", "extra tag for the run (repeatable)", collect)
    .option("--job-variable <key=value>", "job variable for this run (repeatable)", collect)
    .option("--start-in <seconds>", "schedule the run this many seconds from now")
    .option("-q, --work-queue <name>", "queue of the deployment's pool to put the run in (one it has)")
    .option("--idempotency-key <key>", "a run made before with this key is returned instead of a new one")
    .option("-w, --watch", "follow the run until it finishes: exit 0 if Completed, 1 otherwise")
    .option("--json", "print the created run as JSON")
    .action(async (ref, opts) => {
      const { parseParamFlags, WeirError } = await import("../core/model/index.ts");
      const { keyValues } = await import("./lib/options.ts");
      const c = client();
      const parameters = parseParamFlags(opts.param ?? [], opts.params);
      let scheduled: string | undefined;
      if (opts.startIn !== undefined) {
        const s = opts.startIn.trim() === "" ? Number.NaN : Number(opts.startIn);
        // Up to a year ahead: further is no run anyone waits for (and 1e20 s is no date at all).
        if (!Number.isFinite(s) || s < 0 || s > 366 * 86_400)
          throw new WeirError(
            "USAGE",
            `--start-in must be a number of seconds from 0 to 31622400 (a year) (got "${opts.startIn}")`,
          );
        scheduled = new Date(Date.now() + s * 1000).toISOString();
      }
      const d = await c.getDeployment(ref);
      const { run, created } = await c.runDeploymentAnswer(d.id, {
        parameters,
        tags: opts.tag,
        job_variables: opts.jobVariable ? keyValues(opts.jobVariable, "--job-variable") : undefined,
        scheduled_time: scheduled,
        work_queue_name: opts.workQueue,
        idempotency_key: opts.idempotencyKey,
      });
      if (opts.json && !opts.watch) return printJson(run);
      console.log(
        created
          ? `Created flow run ${bold(run.name)} (${run.id}) of ${d.flow_name}/${d.name}`
          : `Flow run ${bold(run.name)} (${run.id}) of ${d.flow_name}/${d.name} already has idempotency key "${opts.idempotencyKey}": no new run (it keeps its own parameters; it is ${run.state.name})`,
      );
      if (!d.work_pool_name)
        console.log(
          dim("  This deployment has no work pool: no agent will pick the run up (redeploy with --pool)."),
        );
      else {
        const { noAgentPolling } = await import("../core/sdk/run-deployment.ts");
        const idle = await noAgentPolling(c, d.work_pool_name, run.work_queue_name);
        if (idle) console.log(yellow(`  The run stays Scheduled for now: ${idle}.`));
      }
      if (!opts.watch) {
        console.log(dim(`  follow it: weir flow-run logs ${run.id} --follow`));
        return;
      }
      const { watchRun } = await import("./lib/watch.ts");
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      const final = await watchRun(c, run.id, { logs: true, signal: stop.signal });
      if (stop.signal.aborted) {
        console.log(dim(`Stopped watching; the run goes on (weir flow-run inspect ${run.id})`));
        process.exitCode = 1;
        return;
      }
      const ok = final.state.type === "COMPLETED";
      console.log(
        `Flow run ${final.name} ${ok ? green(final.state.name) : red(final.state.name)}${final.state.message ? `: ${final.state.message}` : ""}`,
      );
      process.exitCode = ok ? 0 : 1;
    });

  registerScheduleCommands(cmd);
  registerLegacyCommands(cmd);

  for (const [verb, paused] of [
    ["pause", true],
    ["resume", false],
  ] as const)
    cmd
      .command(verb)
      .description(
        paused
          ? "Pause a deployment: its schedules make no runs (runs asked for still start)"
          : "Resume a paused deployment: its active schedules make runs again",
      )
      .argument("<deployment>", "FLOW/NAME or id")
      .action(async (ref) => {
        const c = client();
        const d = await c.getDeployment(ref);
        await c.setDeploymentPaused(d.id, paused);
        console.log(
          `Deployment ${d.flow_name}/${d.name} ${paused ? "paused: its schedules make no runs until: weir deployment resume" : "resumed"}${paused ? ` ${d.flow_name}/${d.name}` : ""}`,
        );
      });

  cmd
    .command("delete")
    .description("Delete a deployment and its scheduled runs (runs that started are kept)")
    .argument("<deployment>", "FLOW/NAME or id")
    .action(async (ref) => {
      const c = client();
      const d = await c.getDeployment(ref);
      await c.deleteDeployment(d.id);
      console.log(
        `Deleted deployment ${d.flow_name}/${d.name} (${d.id}) and its scheduled runs; runs that started are kept`,
      );
    });
}
