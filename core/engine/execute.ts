import { realpathSync } from "node:fs";
import { resolve as pathResolve } from "node:path";
import type { WeirClient } from "../client/index.ts";
import {
  type Deployment,
  describeError,
  type FlowRun,
  requireInside,
  type StateProposal,
  WeirError,
} from "../model/index.ts";
import type { Registry } from "../plugin/index.ts";
import type { Flow } from "../sdk/flow.ts";
import { consoleLogger, makeLogger } from "../sdk/logger.ts";
import { runSteps, scrub } from "../steps/index.ts";
import { loadFlow } from "./load-flow.ts";
import { LogShipper } from "./log-shipper.ts";
import { blockResolver, makeResolver } from "./resolver.ts";
import { type RunFlowResult, runFlow, StopRun } from "./run-flow.ts";

/**
 * `weir execute <id>`: runs one flow run of a deployment in this process. Pull steps run first
 * (they usually set the working directory), then the entrypoint is imported and run. Problems
 * before the flow starts (missing file, bad export) end the run FAILED with the reason.
 */
export async function executeFlowRun(
  client: WeirClient,
  flowRunId: string,
  opts: {
    signal: AbortSignal;
    registry: Registry;
    env: Record<string, string | undefined>;
    /**
     * Set when this process runs other flow runs at the same time (an agent with `--isolation
     * none`): the run starts in `cwd` and never changes the process's working directory, and no
     * watchdog kills the process on a timeout.
     */
    shared?: { cwd: string; echo: boolean };
    /**
     * Folders (besides the one the run starts in) its pull steps may move it to: the agent's
     * --allow-dir roots. Absent: anywhere (a container, which is its own sandbox).
     */
    allowedDirs?: string[];
    /** The run and its deployment when the caller has them already (from the claim). */
    execution?: { flow_run: FlowRun; deployment: Deployment | null };
    /** The flow itself when the caller holds it (serve()): the entrypoint is not imported. */
    flow?: Flow;
    /** Its claim recorded the run RUNNING already: the first attempt proposes no RUNNING. */
    started?: boolean;
  },
): Promise<RunFlowResult> {
  const { signal, shared } = opts;
  let cwd = shared?.cwd ?? process.cwd();
  const { flow_run: run, deployment } = opts.execution ?? (await client.execution(flowRunId));
  if (!deployment) {
    throw new WeirError(
      "INVALID",
      `Flow run ${flowRunId} has no deployment; only deployment runs can be executed (use: weir run FILE:FLOW)`,
    );
  }
  const failEarly = async (problem: string): Promise<RunFlowResult> => {
    // Stopped before the flow started: by a cancellation, or because its agent went away.
    const final: StateProposal = signal.aborted
      ? signal.reason instanceof StopRun
        ? signal.reason.final
        : { type: "CANCELLED", message: "Cancelled before the flow started" }
      : { type: "FAILED", message: problem };
    const message = final.message ?? problem;
    consoleLogger.error(message);
    await client.sendLogs([
      {
        flow_run_id: run.id,
        task_run_id: null,
        name: "weir.engine",
        level: 40,
        message,
        timestamp: new Date().toISOString(),
      },
    ]);
    await client.setFlowRunState(run.id, final);
    return { final };
  };
  // Pull steps run with every placeholder resolved now (blocks, variables, $ENV, earlier steps'
  // outputs); their log lines go to the run's logs with secrets scrubbed.
  const secrets: string[] = [];
  // Env variables its agent filled from secret blocks (job variables): their values are secrets.
  for (const name of (opts.env.WEIR_SECRET_ENV ?? "").split(",")) {
    const value = name ? opts.env[name] : undefined;
    if (value) secrets.push(value);
  }
  const resolve = makeResolver(client, secrets, opts.registry);
  const roots = opts.allowedDirs ? [cwd, ...opts.allowedDirs] : null;
  const confine = (dir: string) => {
    if (roots) requireInside(dir, roots);
  };
  const shipper = new LogShipper(client, run.id);
  const log = makeLogger((level, message) => {
    const clean = scrub(message, secrets);
    shipper.add(level, clean, "weir.steps");
    if (shared && !shared.echo) return;
    if (level >= 30) console.error(clean);
    else console.log(clean);
  });
  try {
    const outputs = await runSteps(deployment.pull_steps ?? [], {
      registry: opts.registry,
      env: opts.env,
      cwd,
      log,
      signal,
      secrets,
      resolve: (k, o) => resolve(k, o),
      chdir: (dir) => {
        confine(dir);
        cwd = dir;
        if (!shared) process.chdir(dir);
      },
      // Code is judged where it really is: a symlink inside an allowed folder may point out of it.
      confine: (file, what) => {
        if (!roots) return;
        requireInside(file, roots, what);
        const real = (p: string) => {
          try {
            return realpathSync(p);
          } catch {
            return p;
          }
        };
        requireInside(real(file), roots.map(real), `${what}, a link to ${real(file)},`);
      },
    });
    if (typeof outputs.directory === "string") {
      cwd = pathResolve(cwd, outputs.directory);
      confine(cwd);
      if (!shared) process.chdir(cwd);
    }
  } catch (err) {
    await shipper.close();
    return failEarly(`Pull steps failed: ${scrub(describeError(err), secrets)}`);
  }
  await shipper.close();
  if (!deployment.entrypoint)
    return failEarly(`Deployment ${deployment.flow_name}/${deployment.name} has no entrypoint`);
  // Block placeholders in the parameters (a secret kept out of the deployment) are resolved here,
  // on the agent's side, and their values scrubbed from the run's logs.
  let parameters: Record<string, unknown>;
  try {
    parameters = await blockResolver(client, secrets, opts.registry)(run.parameters);
  } catch (err) {
    return failEarly(`Could not resolve the run's parameters: ${scrub(describeError(err), secrets)}`);
  }
  // The flow's own output (console, process.stdout/stderr) reaches the agent's terminal and log:
  // in a process of its own it is scrubbed too. (Inside an agent, other runs share the console.)
  if (!shared && secrets.length > 0) scrubProcessOutput(secrets);
  let flow: Flow;
  try {
    flow = opts.flow ?? (await loadFlow(deployment.entrypoint, cwd, { fresh: !!shared, confined: true }));
  } catch (err) {
    return failEarly(scrub(describeError(err), secrets));
  }
  return runFlow({
    flow,
    parameters,
    secrets,
    tracking: { client, flowRunId: run.id },
    signal,
    echo: shared?.echo ?? true,
    watchdog: !shared,
    started: opts.started,
  });
}

/**
 * From now on, console output and writes to this process's stdout and stderr have the secrets
 * (the live list: ones resolved later count too) replaced by ***. Values that are not text are
 * printed as Bun prints them, then scrubbed. Text a flow writes straight to a file descriptor
 * (Bun.write(Bun.stdout)) is not seen.
 */
function scrubProcessOutput(secrets: string[]): void {
  const text = (a: unknown) =>
    typeof a === "string"
      ? scrub(a, secrets)
      : a !== null && typeof a === "object"
        ? scrub(Bun.inspect(a), secrets)
        : a;
  for (const m of ["log", "info", "warn", "error", "debug", "trace"] as const) {
    const original = console[m].bind(console);
    console[m] = (...args: unknown[]) => original(...args.map(text));
  }
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) =>
      write(
        typeof chunk === "string"
          ? scrub(chunk, secrets)
          : chunk instanceof Uint8Array &&
              secrets.some((x) => x.length >= 3 && Buffer.from(chunk).includes(x))
            ? Buffer.from(scrub(Buffer.from(chunk).toString("utf8"), secrets))
            : chunk,
        ...rest,
      )) as typeof stream.write;
  }
}
