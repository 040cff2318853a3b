import type { Command } from "@commander-js/extra-typings";
import type { Handoff } from "../core/infra/index.ts";

export function register(program: Command): void {
  program
    .command("execute")
    .description("Run one flow run in this process (agents start this; you rarely need to)")
    .argument("[flow-run-id]", "id of the flow run")
    .option(
      "--warm",
      "load the engine, then wait for the run to take on stdin (agents with --prewarm start these)",
    )
    .action((idArg, opts) => execute(idArg, opts.warm === true));
}

/**
 * The forms agents start (`execute ID`, `execute --warm`), which main.ts runs without loading the
 * command line parser; anything else (--help, a mistake) is left to commander (null).
 */
export function leanArgs(args: string[]): { id: string | undefined; warm: boolean } | null {
  const warm = args.includes("--warm");
  const rest = args.filter((a) => a !== "--warm");
  if (rest.length > 1 || rest.some((a) => a.startsWith("-") || a === "")) return null;
  if (!warm && rest.length === 0) return null;
  return { id: rest[0], warm };
}

/** Runs one flow run in this process: ID, or the one an agent hands over on stdin (warm). */
export async function execute(idArg: string | undefined, warm: boolean): Promise<void> {
  const { registerFlowModules, primeFlowImports, executeFlowRun, StopRun, watchParent } = await import(
    "../core/engine/index.ts"
  );
  const { WeirClient } = await import("../core/client/index.ts");
  const { WeirError } = await import("../core/model/index.ts");
  registerFlowModules();
  const { registry } = await import("./lib/registry.ts");
  const plugins = registry();
  let id = idArg;
  let execution: Handoff["execution"];
  let accepts: Handoff["accepts"];
  if (warm) {
    // Everything above is loaded before the run exists; the agent hands it over on stdin
    // (closing it without a run means: exit, the agent is stopping). Meanwhile the first of
    // everything a run does is done once here: a request to the server (Bun's HTTP client
    // starts, and the connection stays open for the run's reports) and a flow's imports.
    void new WeirClient().health().catch(() => {});
    await primeFlowImports();
    const text = await Bun.stdin.text();
    if (!text.trim()) return;
    const { applyHandoff } = await import("./lib/handoff.ts");
    ({ id, execution, accepts } = applyHandoff(text));
  }
  if (!id) throw new WeirError("USAGE", "missing <flow-run-id> (weir execute ID)");
  accepts ??= process.env.WEIR_SERVER_ACCEPTS?.split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  const runId = id;
  const controller = new AbortController();
  // The agent asks for cancellation with SIGTERM. Ctrl-C in the agent's terminal reaches this
  // process too, but stopping flows is the agent's decision (its second Ctrl-C kills them).
  // State reports carry the agent that claimed the run (set by its infrastructure).
  const client = new WeirClient(undefined, { agentId: process.env.WEIR_AGENT_ID || undefined, accepts });
  // SIGTERM is how an agent cancels a run. One that comes without a cancellation (docker stop,
  // a daemon or machine shutting down) means the infrastructure went away: the run CRASHED.
  process.on("SIGTERM", () => {
    void client
      .getFlowRun(runId)
      .then((r) => r.state.type === "CANCELLING")
      .catch(() => false)
      .then((cancelling) =>
        controller.abort(
          cancelling
            ? undefined
            : new StopRun({
                type: "CRASHED",
                message:
                  "The flow run got SIGTERM without being cancelled: its infrastructure was stopped (docker stop, a daemon or machine shutting down)",
              }),
        ),
      );
  });
  process.on("SIGINT", () => {});
  // The flow process ends with its agent, reporting the run CRASHED itself; one that does not
  // stop within the grace period is ended anyway.
  const agentPid = Number(process.env.WEIR_AGENT_PID);
  const runFolder = process.env.WEIR_RUN_FOLDER;
  let orphaned = false;
  if (Number.isInteger(agentPid) && agentPid > 0) {
    watchParent(agentPid, () => {
      orphaned = true;
      const message = `Its agent (pid ${agentPid}) exited while the run was in progress; the flow process stopped with it`;
      console.error(`weir: ${message}`);
      controller.abort(new StopRun({ type: "CRASHED", message }));
      setTimeout(() => void removeRunFolder(runFolder).finally(() => process.exit(1)), 10_000).unref();
    });
  }
  const allowed = process.env.WEIR_ALLOWED_DIRS;
  const { final } = await executeFlowRun(client, runId, {
    allowedDirs: allowed ? (JSON.parse(allowed) as string[]) : undefined,
    execution,
    started: process.env.WEIR_RUN_STARTED === runId,
    signal: controller.signal,
    registry: plugins,
    env: process.env,
  });
  if (orphaned) await removeRunFolder(runFolder);
  process.exitCode = final.type === "COMPLETED" ? 0 : 1;
}

/**
 * Removes the folder the agent made for this run (WEIR_RUN_FOLDER, read before flow code ran),
 * which the agent, gone, no longer can. Only a `weir-run-*` folder directly in the temp folder:
 * the variable is not trusted to name anything else.
 */
async function removeRunFolder(folder: string | undefined): Promise<void> {
  if (!folder) return;
  const [{ rm }, { tmpdir }, { basename, dirname }] = await Promise.all([
    import("node:fs/promises"),
    import("node:os"),
    import("node:path"),
  ]);
  if (!basename(folder).startsWith("weir-run-") || dirname(folder) !== tmpdir()) return;
  await rm(folder, { recursive: true, force: true }).catch(() => {});
}
