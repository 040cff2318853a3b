import type { Command } from "@commander-js/extra-typings";

export function register(program: Command): void {
  program
    .command("execute")
    .description("Run one flow run in this process (agents start this; you rarely need to)")
    .argument("<flow-run-id>", "id of the flow run")
    .action(async (id) => {
      const { registerFlowModules, executeFlowRun } = await import("../core/engine/index.ts");
      const { WeirClient } = await import("../core/client/index.ts");
      registerFlowModules();
      (await import("../plugins/index.ts")).registerPlugins();
      const controller = new AbortController();
      // The agent asks for cancellation with SIGTERM. Ctrl-C in the agent's terminal reaches this
      // process too, but stopping flows is the agent's decision (its second Ctrl-C kills them).
      process.on("SIGTERM", () => controller.abort());
      process.on("SIGINT", () => {});
      const { final } = await executeFlowRun(new WeirClient(), id, controller.signal);
      process.exitCode = final.type === "COMPLETED" ? 0 : 1;
    });
}
