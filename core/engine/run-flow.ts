import * as v from "valibot";
import type { WeirClient } from "../client/index.ts";
import {
  describeError,
  LOG_LEVELS,
  levelName,
  pause,
  type StateProposal,
  type TaskRunSnapshot,
  WeirError,
} from "../model/index.ts";
import { type RunContext, runContext } from "../sdk/context.ts";
import { SubflowFailed } from "../sdk/errors.ts";
import type { Flow } from "../sdk/flow.ts";
import { type Logger, makeLogger } from "../sdk/logger.ts";
import { scrub, scrubJson, scrubValue } from "../steps/index.ts";
import { LogShipper } from "./log-shipper.ts";
import { ApiReporter } from "./reporter.ts";
import { Watchdog } from "./watchdog.ts";

export interface RunFlowOptions {
  flow: Flow;
  parameters: Record<string, unknown>;
  /** Tracked runs report states, task runs and logs to the API; untracked ones only print. */
  tracking: { client: WeirClient; flowRunId: string } | null;
  /** Aborts the run (cancellation); the run ends CANCELLED. */
  signal: AbortSignal;
  /** Values that must never appear in the run's log lines (secrets its steps and parameters resolved). */
  secrets?: string[];
  /** Print log lines to stdout/stderr as well (the agent and `weir run` show them). */
  echo?: boolean;
  /**
   * Whether a body that never yields past its timeout gets this process killed (default true).
   * False where the process runs other flow runs too: the timeout then holds only at await points.
   */
  watchdog?: boolean;
  /**
   * The run is RUNNING already, recorded so by the claim that gave it to an agent starting it at
   * once (`weir agent --isolation none`): its first attempt proposes no RUNNING of its own.
   */
  started?: boolean;
}

export interface RunFlowResult {
  final: StateProposal;
  result?: unknown;
}

class Cancelled extends Error {}
class TimedOut extends Error {}

/** How long past its timeout a body that never yields gets before its process is killed. */
const WATCHDOG_GRACE_MS = 3000;
/**
 * An abort reason that ends the run in `final` instead of CANCELLED: the engine stops because of
 * something outside the flow (its agent died), not because someone cancelled the run.
 */
export class StopRun extends Error {
  constructor(readonly final: StateProposal) {
    super(final.message ?? final.type);
  }
}

/**
 * Runs one flow body with parameters: validates them with the flow's schema, moves the run to
 * RUNNING, applies retries and the timeout, records tasks and logs, and ends in a final state.
 * Logs are flushed before the final state is set, and the last task runs are written with it, so
 * whoever sees COMPLETED sees every log line and task run.
 */
export async function runFlow(opts: RunFlowOptions): Promise<RunFlowResult> {
  const { flow, tracking } = opts;
  // A run the server has already ended (its agent was declared dead, say) stops here too.
  let running: AbortController | null = null;
  const shipper = tracking
    ? new LogShipper(tracking.client, tracking.flowRunId, (reason) =>
        running?.abort(new StopRun({ type: "CRASHED", message: `The server ended this run: ${reason}` })),
      )
    : null;
  const flowLoggerName = `flow_runs.${flow.options.name}`;
  const echoOn = opts.echo !== false;
  const sink = (taskRunId: () => string | undefined) => (level: number, raw: string) => {
    const message = opts.secrets?.length ? scrub(raw, opts.secrets) : raw;
    shipper?.add(level, message, flowLoggerName, taskRunId() ?? null);
    if (opts.echo !== false) {
      const line = `${new Date().toISOString()} ${levelName(level).padEnd(7)} ${message}`;
      if (level >= LOG_LEVELS.warning) console.error(line);
      else console.log(line);
    }
  };
  const log = makeLogger(sink(() => runContext.getStore()?.taskRunId));
  const reporter = tracking
    ? new ApiReporter(tracking.client, tracking.flowRunId, (m) => log.warning(m), opts.secrets)
    : null;
  const propose = async (
    rawState: StateProposal,
    rawResult?: string,
    rawTaskRuns?: TaskRunSnapshot[],
  ): Promise<void> => {
    if (!tracking) return;
    // What leaves the process is scrubbed like the log lines: a failure's message and stack, a
    // task's error, a returned value that carry a secret the run resolved.
    const state = scrubValue(rawState, opts.secrets);
    const result = rawResult === undefined ? undefined : scrubJson(rawResult, opts.secrets);
    const taskRuns = scrubValue(rawTaskRuns, opts.secrets);
    try {
      await tracking.client.setFlowRunState(tracking.flowRunId, state, { result, taskRuns });
    } catch (err) {
      // Refused with task runs riding along (a server with lower limits): they go on their own.
      if (!taskRuns?.length || !(err instanceof WeirError && ["INVALID", "TOO_LARGE"].includes(err.code)))
        throw err;
      await tracking.client
        .writeTaskRuns(taskRuns)
        .catch((e) => log.warning(`Could not record task runs: ${describeError(e)}`));
      await tracking.client.setFlowRunState(tracking.flowRunId, state, { result });
    }
  };
  // The task runs not yet reported go with the run's next state, in the same request, when the
  // server said it takes them (one from before that would drop them): else they go first.
  const unreported = async (): Promise<TaskRunSnapshot[]> => {
    if (tracking?.client.accepts("task_runs")) return (await reporter?.drain()) ?? [];
    await reporter?.flush();
    return [];
  };
  const finish = async (final: StateProposal, result?: unknown): Promise<RunFlowResult> => {
    const taskRuns = await unreported();
    await shipper?.close();
    try {
      // The return value is kept as JSON with the COMPLETED state. One the server will not keep
      // (too large, not JSON) leaves the run COMPLETED, saying why it has no result.
      const json = final.type === "COMPLETED" && tracking ? resultJson(result) : undefined;
      if (typeof json === "object") final = { ...final, message: `Its result was not kept: ${json.problem}` };
      try {
        await propose(final, typeof json === "string" ? json : undefined, taskRuns);
      } catch (err) {
        // Refused for its size or shape (422, or 413 when over the request limit): kept without it.
        if (
          !(
            typeof json === "string" &&
            err instanceof WeirError &&
            ["INVALID", "TOO_LARGE"].includes(err.code)
          )
        )
          throw err;
        final = {
          ...final,
          message: `Its result was not kept: ${err.message.replace(/^Invalid request body: (result: )?/, "")}`,
        };
        await propose(final, undefined, taskRuns);
      }
      if (final.message && final.type === "COMPLETED" && echoOn) console.error(final.message);
    } catch (err) {
      // The server may refuse (e.g. the run was cancelled meanwhile); its decision stands.
      if (!(err instanceof WeirError && err.code === "CONFLICT")) throw err;
      const cancelled: StateProposal = { type: "CANCELLED", message: "Cancelled while running" };
      if (final.type !== "CANCELLED") await propose(cancelled, undefined, taskRuns).catch(() => {});
      return { final: cancelled };
    } finally {
      // Lines logged while the end was recorded (a task-run report that failed, say) go too.
      await shipper?.close();
    }
    return { final, result };
  };

  let params: Record<string, unknown> = opts.parameters;
  if (flow.options.params) {
    const parsed = v.safeParse(flow.options.params as v.GenericSchema, opts.parameters);
    if (!parsed.success) {
      const problems = parsed.issues
        .map((i) => `${v.getDotPath(i) ?? "parameters"}: ${i.message}`)
        .join("; ");
      log.error(`Invalid parameters: ${problems}`);
      return finish({ type: "FAILED", message: `Invalid parameters: ${problems}` });
    }
    params = parsed.output as Record<string, unknown>;
  }

  const retries = Math.max(0, flow.options.retries ?? 0);
  const retryDelayMs = Math.max(0, flow.options.retryDelaySeconds ?? 0) * 1000;
  const timeoutMs = flow.options.timeoutSeconds ? flow.options.timeoutSeconds * 1000 : 0;
  const watchdog = new Watchdog();
  const guarded = timeoutMs > 0 && tracking !== null && opts.watchdog !== false;
  const disarm = () => {
    if (guarded) watchdog.disarm();
  };

  for (let attempt = 0; ; attempt++) {
    try {
      if (attempt > 0) await propose({ type: "RUNNING", name: "Retrying" });
      else if (!opts.started) await propose({ type: "RUNNING" });
    } catch (err) {
      await shipper?.close();
      throw err;
    }
    const controller = new AbortController();
    running = controller;
    const onAbort = () =>
      controller.abort(
        opts.signal.reason instanceof StopRun ? opts.signal.reason : new Cancelled("cancelled"),
      );
    opts.signal.addEventListener("abort", onAbort, { once: true });
    // Stopped before this attempt began (while its RUNNING was being recorded, say): it ends so.
    if (opts.signal.aborted) onAbort();
    const timer = timeoutMs ? setTimeout(() => controller.abort(new TimedOut("timeout")), timeoutMs) : null;
    // The run is alive until its body settles: a body awaiting only its cancellation (nothing
    // else pending) must not let the process end as if it had finished.
    const keepAlive = setInterval(() => {}, 2 ** 30);
    // A body that never yields keeps that timer from firing: a watchdog thread ends it instead.
    if (guarded && tracking)
      watchdog.arm({
        deadline: Date.now() + timeoutMs + WATCHDOG_GRACE_MS,
        urls: tracking.client.baseUrl.split(","),
        flowRunId: tracking.flowRunId,
        agentId: tracking.client.agentId,
        message: `Flow run exceeded its timeout of ${flow.options.timeoutSeconds} s without yielding (a CPU-bound body?): its process was killed ${WATCHDOG_GRACE_MS / 1000} s later`,
      });
    const ctx: RunContext = {
      flowRunId: tracking?.flowRunId ?? null,
      flowName: flow.options.name,
      log,
      signal: controller.signal,
      reporter,
      client: tracking?.client,
      subflow:
        tracking && reporter
          ? (child, childParams) =>
              runSubflow(child, childParams, {
                tracking,
                reporter,
                log,
                signal: controller.signal,
                secrets: opts.secrets,
                echo: opts.echo,
              })
          : undefined,
    };
    const aborted = new Promise<never>((_, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason);
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    let settled = false;
    try {
      const body = runContext.run(ctx, () =>
        flow.fn(params as never, { log, signal: controller.signal, flowRunId: ctx.flowRunId }),
      );
      Promise.resolve(body).then(
        () => (settled = true),
        () => (settled = true),
      );
      const result = await Promise.race([body, aborted]);
      disarm(); // before reporting, which may wait for a server
      return finish({ type: "COMPLETED" }, result);
    } catch (err) {
      disarm();
      if (err instanceof StopRun) {
        log.error(err.message);
        return finish(err.final);
      }
      if (err instanceof Cancelled) {
        log.warning("Flow run cancelled");
        return finish({ type: "CANCELLED", message: "Flow run was cancelled" });
      }
      const timedOut = err instanceof TimedOut;
      const message = timedOut
        ? `Flow run exceeded its timeout of ${flow.options.timeoutSeconds} s`
        : describeError(err);
      if (attempt < retries) {
        log.warning(
          `Attempt ${attempt + 1} of ${retries + 1} failed: ${message}; retrying in ${retryDelayMs / 1000} s`,
        );
        try {
          await propose(
            {
              type: "SCHEDULED",
              name: "AwaitingRetry",
              message,
              scheduledTime: new Date(Date.now() + retryDelayMs).toISOString(),
            },
            undefined,
            await unreported(),
          );
        } catch (err) {
          // Refused (cancelled meanwhile, say): the lines so far, this attempt's failure among
          // them, still reach the run before the process ends.
          await shipper?.close();
          throw err;
        }
        // Cancelled (or stopped) while waiting: it ends so now, not after the delay.
        if (!(await pause(retryDelayMs, opts.signal))) {
          const reason = opts.signal.reason;
          if (reason instanceof StopRun) {
            log.error(reason.message);
            return finish(reason.final);
          }
          log.warning("Flow run cancelled while waiting to retry");
          return finish({ type: "CANCELLED", message: "Flow run was cancelled while waiting to retry" });
        }
        // A body that ignores its signal cannot be stopped from inside the process: said, since
        // its work goes on beside the next attempt's.
        if (!settled)
          log.warning(
            `Attempt ${attempt + 1} is still running (its code does not stop on ctx.signal); attempt ${attempt + 2} starts beside it`,
          );
        continue;
      }
      log.error(timedOut ? message : `Flow run failed: ${errorText(err)}`);
      return finish({
        type: "FAILED",
        name: timedOut ? "TimedOut" : undefined,
        message,
        data: { error: errorData(err) },
      });
    } finally {
      clearInterval(keepAlive);
      if (timer) clearTimeout(timer);
      disarm();
      opts.signal.removeEventListener("abort", onAbort);
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error && err.stack ? userStack(err.stack) : describeError(err);
}

function errorData(err: unknown): Record<string, unknown> {
  if (err instanceof Error)
    return { name: err.name, message: err.message, stack: err.stack ? userStack(err.stack) : null };
  return { message: describeError(err) };
}

/**
 * A stack as a flow's author reads it: the frames of the compiled binary's own bundle
 * (`/$bunfs/root/chunk-...js`, minified names) say nothing about their code and are left out.
 */
export function userStack(stack: string): string {
  return stack
    .split("\n")
    .filter((line) => !/^\s+at .*(\/\$bunfs\/|B:\\~BUN\\)/.test(line))
    .join("\n");
}

/** The return value as JSON text; undefined when there is none; the problem when it is not JSON. */
function resultJson(result: unknown): string | undefined | { problem: string } {
  if (result === undefined) return undefined;
  try {
    return JSON.stringify(result);
  } catch (err) {
    return { problem: `the returned value cannot be written as JSON (${describeError(err)})` };
  }
}

/**
 * A flow called inside a tracked run: a flow run of its own, linked to the caller and to a task
 * run standing for it there (as Prefect), run here with its own states, logs, task runs, retries
 * and timeout. Cancelling the caller cancels it. Its result is the call's; its failure rejects it.
 */
async function runSubflow(
  child: Flow,
  params: Record<string, unknown>,
  parent: {
    tracking: { client: WeirClient; flowRunId: string };
    reporter: ApiReporter;
    log: Logger;
    signal: AbortSignal;
    secrets?: string[];
    echo?: boolean;
  },
): Promise<unknown> {
  const { client, flowRunId } = parent.tracking;
  const name = child.options.name;
  const taskRunId = Bun.randomUUIDv7();
  parent.reporter.taskRunStarted({ id: taskRunId, name, taskKey: `subflow:${name}` });
  let run: { id: string; name: string };
  try {
    // Its parameters as the run records them (JSON); the body still gets the values themselves.
    const recorded = JSON.parse(JSON.stringify(params) ?? "{}");
    run = await client.createFlowRun({
      flow_name: name,
      parameters: recorded,
      state: { type: "PENDING" },
      parent_flow_run_id: flowRunId,
      parent_task_run_id: taskRunId,
    });
  } catch (err) {
    parent.reporter.taskRunState(taskRunId, { type: "FAILED", message: describeError(err) });
    throw new SubflowFailed(`Subflow ${name} could not start: ${describeError(err)}`, "", {
      type: "FAILED",
    });
  }
  parent.log.info(`Subflow ${name}: flow run ${run.name} (${run.id})`);
  let out: RunFlowResult;
  try {
    out = await runFlow({
      flow: child,
      parameters: params,
      tracking: { client, flowRunId: run.id },
      signal: parent.signal,
      secrets: parent.secrets,
      echo: parent.echo,
      // One watchdog per process, the outermost run's; a subflow's timeout holds at await points.
      watchdog: false,
    });
  } catch (err) {
    // It could not be run to its end (the server refused its start, say): the call fails.
    parent.reporter.taskRunState(taskRunId, { type: "FAILED", message: describeError(err) });
    if (parent.signal.aborted) throw parent.signal.reason;
    throw new SubflowFailed(
      `Subflow ${name} (flow run ${run.name}, ${run.id}) could not run: ${describeError(err)}`,
      run.id,
      { type: "FAILED", message: describeError(err) },
    );
  }
  const { final } = out;
  parent.reporter.taskRunState(
    taskRunId,
    final.type === "COMPLETED"
      ? { type: "COMPLETED" }
      : { type: final.type === "CANCELLED" ? "CANCELLED" : "FAILED", message: final.message },
  );
  if (final.type === "COMPLETED") return out.result;
  // The caller was cancelled (or stopped): it ends that way too, not as a failure of its own.
  if (parent.signal.aborted) throw parent.signal.reason;
  throw new SubflowFailed(
    `Subflow ${name} (flow run ${run.name}, ${run.id}) ended ${final.type}${final.message ? `: ${final.message}` : ""}`,
    run.id,
    final,
  );
}
