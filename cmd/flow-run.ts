import type { Command } from "@commander-js/extra-typings";
import { type FlowRun, parseStateFilter, WeirError } from "../core/model/index.ts";
import { client, positiveInt } from "./lib/options.ts";
import { ago, dim, printJson, printTable, stateColor } from "./lib/output.ts";
import { flowRunId } from "./lib/run-ref.ts";

export function register(program: Command): void {
  const cmd = program.command("flow-run").description("List, inspect, follow and cancel flow runs");

  cmd
    .command("ls")
    .alias("list")
    .description("List recent flow runs, newest first")
    .option("--deployment <ref>", "only runs of this deployment (FLOW/NAME or id)")
    .option("--flow <name>", "only runs of this flow")
    .option(
      "--state <types>",
      "only runs in these states, comma separated: state types (FAILED,CRASHED) or LATE, AWAITINGRETRY, RETRYING",
      stateTypes,
    )
    .option("--limit <n>", "how many", positiveInt("--limit"), 20)
    .option("--json", "print JSON")
    .action(async (opts) => {
      const c = client();
      const deployment = opts.deployment ? (await c.getDeployment(opts.deployment)).id : undefined;
      const runs = await c.listFlowRuns({
        deployment,
        flow: opts.flow,
        state: opts.state,
        limit: opts.limit,
      });
      if (opts.json) return printJson(runs);
      if (runs.length === 0)
        return console.log(
          opts.deployment || opts.flow || opts.state
            ? "No flow runs match these filters"
            : "No flow runs yet",
        );
      printTable(
        ["NAME", "FLOW/DEPLOYMENT", "STATE", "CREATED", "DURATION", "ID"],
        runs.map((r) => [
          r.name,
          `${r.flow_name}${r.deployment_name ? `/${r.deployment_name}` : ""}`,
          [r.state.name, stateColor(r.state.type)],
          ago(r.created),
          runTime(r),
          [r.id, dim],
        ]),
      );
    });

  cmd
    .command("inspect")
    .description("Show a flow run with its state history and task runs")
    .argument("<run>", "flow run id or name")
    .option("--json", "print JSON")
    .action(async (ref, opts) => {
      const c = client();
      const id = await flowRunId(c, ref);
      const [run, states, tasks, children] = await Promise.all([
        c.getFlowRun(id),
        c.flowRunStates(id),
        c.taskRuns(id),
        c.listFlowRuns({ parent: id, limit: 1000 }),
      ]);
      const parent = run.parent_flow_run_id
        ? await c.getFlowRun(run.parent_flow_run_id).catch(() => null)
        : null;
      if (opts.json)
        return printJson({ ...run, state_history: states, task_runs: tasks, subflow_runs: children });
      const { printFields } = await import("./lib/output.ts");
      printFields([
        ["Flow run", `${run.name} (${run.id})`],
        ["Flow / deployment", `${run.flow_name}${run.deployment_name ? ` / ${run.deployment_name}` : ""}`],
        [
          "State",
          [
            `${run.state.name}${run.state.message ? `: ${run.state.message}` : ""}`,
            stateColor(run.state.type),
          ],
        ],
        ...(run.parent_flow_run_id
          ? [
              [
                "Parent flow run",
                `${parent ? `${parent.name} (${parent.id})` : run.parent_flow_run_id}${run.parent_task_run_id ? `, as task run ${run.parent_task_run_id}` : ""}`,
              ] as [string, string],
            ]
          : []),
        ["Parameters", JSON.stringify(run.parameters)],
        ["Started / ended", `${run.start_time ?? "-"} / ${run.end_time ?? "-"}`],
        ["Runs", String(run.run_count)],
      ]);
      console.log("");
      printTable(
        ["TIME", "STATE", "MESSAGE"],
        states.map((s) => [s.timestamp, [s.name, stateColor(s.type)], s.message ?? ""]),
      );
      if (children.length) {
        console.log("");
        printTable(
          ["SUBFLOW RUN", "FLOW/DEPLOYMENT", "STATE", "ID"],
          children
            .slice()
            .reverse()
            .map((r) => [
              r.name,
              `${r.flow_name}${r.deployment_name ? `/${r.deployment_name}` : ""}`,
              [r.state.name, stateColor(r.state.type)],
              [r.id, dim],
            ]),
        );
      }
      if (tasks.length) {
        console.log("");
        printTable(
          ["TASK", "STATE", "STARTED", "ENDED"],
          tasks.map((t) => [
            t.name,
            [t.state.name, stateColor(t.state.type)],
            t.start_time ?? "-",
            t.end_time ?? "-",
          ]),
        );
      }
    });

  cmd
    .command("logs")
    .description("Print a flow run's log lines")
    .argument("<run>", "flow run id or name")
    .option("-f, --follow", "keep printing until the run finishes")
    .option("--json", "print JSON")
    .action(async (ref, opts) => {
      const c = client();
      const id = await flowRunId(c, ref);
      const { printLog, watchRun } = await import("./lib/watch.ts");
      if (opts.follow && opts.json)
        throw new WeirError(
          "USAGE",
          "--follow prints lines as they come and --json the log as it is now: give one of them",
        );
      if (opts.follow) {
        const stop = new AbortController();
        process.once("SIGINT", () => stop.abort());
        await watchRun(c, id, { logs: true, signal: stop.signal });
        return;
      }
      await c.getFlowRun(id);
      const all = [];
      for (let after = 0; ; ) {
        const page = await c.flowRunLogs(id, after);
        all.push(...page);
        if (page.length < 1000) break;
        after = page[page.length - 1]!.id;
      }
      if (opts.json) return printJson(all);
      for (const l of all) printLog(l);
    });

  cmd
    .command("result")
    .description("Print the JSON a flow run's flow returned")
    .argument("<run>", "flow run id or name")
    .option("--wait", "wait for the run to finish first")
    .action(async (ref, opts) => {
      const c = client();
      const id = await flowRunId(c, ref);
      if (opts.wait) await c.waitForFlowRun(id, Number.POSITIVE_INFINITY);
      printJson(await c.flowRunResult(id));
    });

  cmd
    .command("cancel")
    .description("Cancel a flow run (its agent stops the process)")
    .argument("<run>", "flow run id or name")
    .action(async (ref) => {
      const c = client();
      const run = await c.cancelFlowRun(await flowRunId(c, ref));
      console.log(`Flow run ${run.name} is ${run.state.name}`);
    });

  cmd
    .command("retry")
    .description("Run a finished flow run again (a new attempt of the same run)")
    .argument("<run>", "flow run id or name")
    .action(async (ref) => {
      const c = client();
      const run = await c.retryFlowRun(await flowRunId(c, ref));
      console.log(
        `Flow run ${run.name} (${run.id}) is ${run.state.name} again; an agent of its pool will start it`,
      );
    });
}

/** `--state a,b`: state types and named states (any case), checked before the request. */
function stateTypes(value: string): string {
  parseStateFilter(value.split(","), "--state", "USAGE");
  return value
    .split(",")
    .map((t) => t.trim().toUpperCase())
    .join(",");
}

/** The time a run has spent Running (over all its attempts; a running one's so far), as ls shows it. */
function runTime(r: FlowRun): string {
  const ms =
    r.total_run_time +
    (r.state.type === "RUNNING" ? Math.max(0, Date.now() - Date.parse(r.state.timestamp)) : 0);
  return r.start_time ? `${(ms / 1000).toFixed(2)}s` : "-";
}
