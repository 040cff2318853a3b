import { WeirClient } from "../client/index.ts";
import { executeFlowRun, registerFlowModules, StopRun } from "../engine/index.ts";
import { type InfraExit, type InfraHandle, runFolder } from "../infra/index.ts";
import { type Deployment, describeError, type FlowRun } from "../model/index.ts";
import type { Registry } from "../plugin/index.ts";
import type { Flow } from "../sdk/flow.ts";

/**
 * Why a run of a process pool cannot run inside the agent (`--isolation none`) and gets a
 * process of its own instead, or null: its job variables ask for what only a process of its own
 * has (its own command, or environment variables, which the agent's flows would all share).
 */
export function needsOwnProcess(config: Record<string, unknown>): string | null {
  if (config.command) return "its job variables set a command";
  const env = config.env as Record<string, unknown> | null | undefined;
  if (env && Object.keys(env).length > 0) return `its job variables set env (${Object.keys(env).join(", ")})`;
  return null;
}

/**
 * Runs a process pool's flow run inside the agent's own process (`weir agent --isolation none`):
 * no runtime start and a warm JIT, at the cost of isolation. The run keeps its own working folder
 * (the process's stays the agent's), its own logs, states, retries and cancellation; what it
 * cannot have is documented with the option: a body that never yields is not stopped at its
 * timeout, and process.exit() or a crash in flow code takes the agent and its other runs down.
 */
export function launchInline(
  run: FlowRun,
  config: Record<string, unknown>,
  ctx: {
    apiUrl: string;
    agentId: string;
    registry: Registry;
    apiKey: string | null;
    allowedDirs: string[];
    deployment?: Deployment;
    /** The run's flow when the caller holds it (serve()); else imported from the entrypoint. */
    flow?: Flow;
    /** What the server said it accepts, as the agent's client learnt it (WeirClient.accepted()). */
    accepts?: string[];
  },
): InfraHandle {
  registerFlowModules();
  const { cwd, cleanup } = runFolder(run, config.working_dir as string | null | undefined, ctx.allowedDirs);
  const controller = new AbortController();
  const client = new WeirClient(ctx.apiUrl, {
    agentId: run.agent_id ?? ctx.agentId,
    apiKey: ctx.apiKey ?? undefined,
    accepts: ctx.accepts,
  });
  const exited: Promise<InfraExit> = executeFlowRun(client, run.id, {
    signal: controller.signal,
    registry: ctx.registry,
    env: process.env,
    shared: { cwd, echo: config.stream_output !== false },
    allowedDirs: ctx.allowedDirs,
    execution: ctx.deployment ? { flow_run: run, deployment: ctx.deployment } : undefined,
    flow: ctx.flow,
    // Its claim recorded it RUNNING (the agent claims with `start`).
    started: run.state.type === "RUNNING",
  })
    .then(
      ({ final }): InfraExit => ({ code: final.type === "COMPLETED" ? 0 : 1, reason: null, recorded: true }),
      (err): InfraExit => ({ code: null, reason: `failed inside the agent: ${describeError(err)}` }),
    )
    .finally(cleanup);
  return {
    id: "agent's own process",
    exited,
    // A cancellation stops the run at its next await; kill(0) is the agent being killed.
    kill(graceMs) {
      controller.abort(
        graceMs === 0
          ? new StopRun({ type: "CRASHED", message: "Its agent was killed while the run was in progress" })
          : undefined,
      );
    },
  };
}
