import * as v from "valibot";
import type { WeirClient } from "../client/index.ts";
import { describeError, LOG_LEVELS, levelName, type StateProposal, WeirError } from "../model/index.ts";
import { type RunContext, runContext } from "../sdk/context.ts";
import type { Flow } from "../sdk/flow.ts";
import { makeLogger } from "../sdk/logger.ts";
import { scrub } from "../steps/index.ts";
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
}

export interface RunFlowResult {
  final: StateProposal;
  result?: unknown;
}

const RESULT_LIMIT = 16 * 1024;

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
 * Reports are flushed before the final state is set, so whoever sees COMPLETED sees every log line.
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
    ? new ApiReporter(tracking.client, tracking.flowRunId, (m) => log.warning(m))
    : null;
  const propose = async (state: StateProposal): Promise<void> => {
    if (tracking) await tracking.client.setFlowRunState(tracking.flowRunId, state);
  };
  const finish = async (final: StateProposal, result?: unknown): Promise<RunFlowResult> => {
    await reporter?.flush();
    await shipper?.close();
    try {
      await propose(final);
    } catch (err) {
      // The server may refuse (e.g. the run was cancelled meanwhile); its decision stands.
      if (!(err instanceof WeirError && err.code === "CONFLICT")) throw err;
      const cancelled: StateProposal = { type: "CANCELLED", message: "Cancelled while running" };
      if (final.type !== "CANCELLED") await propose(cancelled).catch(() => {});
      return { final: cancelled };
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
      await propose(attempt === 0 ? { type: "RUNNING" } : { type: "RUNNING", name: "Retrying" });
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
    const timer = timeoutMs ? setTimeout(() => controller.abort(new TimedOut("timeout")), timeoutMs) : null;
    // A body that never yields keeps that timer from firing: a watchdog thread ends it instead.
    if (guarded && tracking)
      watchdog.arm({
        deadline: Date.now() + timeoutMs + WATCHDOG_GRACE_MS,
        urls: tracking.client.baseUrl.split(","),
        flowRunId: tracking.flowRunId,
        message: `Flow run exceeded its timeout of ${flow.options.timeoutSeconds} s without yielding (a CPU-bound body?): its process was killed ${WATCHDOG_GRACE_MS / 1000} s later`,
      });
    const ctx: RunContext = {
      flowRunId: tracking?.flowRunId ?? null,
      flowName: flow.options.name,
      log,
      signal: controller.signal,
      reporter,
    };
    const aborted = new Promise<never>((_, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason);
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    try {
      const body = runContext.run(ctx, () =>
        flow.fn(params as never, { log, signal: controller.signal, flowRunId: ctx.flowRunId }),
      );
      const result = await Promise.race([body, aborted]);
      disarm(); // before reporting, which may wait for a server
      return finish({ type: "COMPLETED", data: resultData(result) }, result);
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
        await reporter?.flush();
        await propose({
          type: "SCHEDULED",
          name: "AwaitingRetry",
          message,
          scheduledTime: new Date(Date.now() + retryDelayMs).toISOString(),
        });
        await Bun.sleep(retryDelayMs);
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
      if (timer) clearTimeout(timer);
      disarm();
      opts.signal.removeEventListener("abort", onAbort);
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error && err.stack ? err.stack : describeError(err);
}

function errorData(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack ?? null };
  return { message: describeError(err) };
}

/** A small, JSON-safe summary of the return value kept with the COMPLETED state. */
function resultData(result: unknown): Record<string, unknown> | undefined {
  if (result === undefined) return undefined;
  try {
    const json = JSON.stringify(result);
    if (json === undefined) return undefined;
    return json.length <= RESULT_LIMIT
      ? { result: JSON.parse(json) }
      : { result_truncated: true, result_bytes: json.length };
  } catch {
    return { result_unserializable: true };
  }
}
