import type { Command } from "@commander-js/extra-typings";
import { collect } from "./lib/options.ts";

export function register(program: Command): void {
  program
    .command("run")
    .description(
      "Run a flow from a file now, in this process (tracked by the API when one is reachable), or run a TypeScript script",
    )
    .argument(
      "<entrypoint>",
      'path/file.ts:flowName runs that flow; path/file.ts runs the file as a script (its default export runs too when it is a flow), with "weir" and "valibot" importable',
    )
    .argument("[args...]", "a script's own arguments (after --), in process.argv from index 2")
    .option("--param <name=value>", "parameter, value read as JSON else text (repeatable)", collect)
    .option("--params <json>", "parameters as a JSON object")
    .option("--no-track", "do not report to the API even if one is reachable")
    .action(async (entrypoint, args, opts) => {
      const { registerFlowModules, loadFlow, runFlow, parseEntrypoint } = await import(
        "../core/engine/index.ts"
      );
      const { parseParamFlags, WeirError } = await import("../core/model/index.ts");
      const { WeirClient } = await import("../core/client/index.ts");
      const { dim } = await import("./lib/output.ts");
      registerFlowModules();
      const parameters = parseParamFlags(opts.param ?? [], opts.params);
      let flow: Awaited<ReturnType<typeof loadFlow>>;
      if (parseEntrypoint(entrypoint).file === entrypoint) {
        // A script: imported (so run) as it is; a default export that is a flow runs after it.
        const { runScript } = await import("./lib/run-script.ts");
        const { flow: found, flowExports } = await runScript(entrypoint, args);
        if (!found) {
          if (opts.param || opts.params)
            throw new WeirError(
              "USAGE",
              `--param/--params are a flow's parameters, and ${entrypoint} has no default export that is a flow (name one: ${entrypoint}:flowName)`,
            );
          // A flow file run without naming its flow: the import ran, no flow did. Said, since the
          // usual intent was to run one.
          if (flowExports.length > 0)
            console.error(
              dim(
                `${entrypoint} ran as a script; no flow ran. It exports ${flowExports.join(", ")}: run one with: weir run ${entrypoint}:${flowExports[0]}`,
              ),
            );
          return;
        }
        flow = found;
      } else {
        if (args.length)
          throw new WeirError(
            "USAGE",
            `extra arguments (${args.join(" ")}) go to scripts; a flow takes --param name=value`,
          );
        flow = await loadFlow(entrypoint, process.cwd());
      }
      let tracking: { client: InstanceType<typeof WeirClient>; flowRunId: string } | null = null;
      if (opts.track) {
        const client = new WeirClient();
        const reachable = await client.health().then(
          () => true,
          () => false,
        );
        if (reachable) {
          const run = await client.createFlowRun({
            flow_name: flow.options.name,
            parameters,
            state: { type: "PENDING" },
          });
          tracking = { client, flowRunId: run.id };
          console.error(dim(`Tracking as flow run ${run.name} (${run.id}) at ${client.baseUrl}`));
        } else {
          console.error(dim(`No Weir API at ${client.baseUrl}: running untracked`));
        }
      }
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      const { final } = await runFlow({ flow, parameters, tracking, signal: stop.signal, echo: true });
      console.error(
        `Flow run ${final.type === "COMPLETED" ? "completed" : `ended ${final.type}${final.message ? `: ${final.message}` : ""}`}`,
      );
      process.exitCode = final.type === "COMPLETED" ? 0 : 1;
    });
}
