import type { Command } from "@commander-js/extra-typings";
import { collect } from "./lib/options.ts";

export function register(program: Command): void {
  program
    .command("run")
    .description("Run a flow from a file now, in this process; tracked by the API when one is reachable")
    .argument("<entrypoint>", "path/file.ts:flowName")
    .option("--param <name=value>", "parameter, value read as JSON else text (repeatable)", collect)
    .option("--params <json>", "parameters as a JSON object")
    .option("--no-track", "do not report to the API even if one is reachable")
    .action(async (entrypoint, opts) => {
      const { registerFlowModules, loadFlow, runFlow } = await import("../core/engine/index.ts");
      const { parseParamFlags } = await import("../core/model/index.ts");
      const { WeirClient } = await import("../core/client/index.ts");
      const { dim } = await import("./lib/output.ts");
      registerFlowModules();
      const parameters = parseParamFlags(opts.param ?? [], opts.params);
      const flow = await loadFlow(entrypoint, process.cwd());
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
