import { describeError, pause } from "../model/index.ts";
import { runContext } from "./context.ts";
import { makeLogger } from "./logger.ts";

export interface TaskOptions {
  name: string;
  retries?: number;
  retryDelaySeconds?: number;
}

export type Task<A extends unknown[], R> = ((...args: A) => Promise<R>) & {
  readonly kind: "weir.task";
  readonly options: TaskOptions;
};

/**
 * Wraps a function as a task. Inside a flow run each call is recorded as a task run with its own
 * states (reported in the background, so a task never waits on the API); outside one it is a
 * plain call.
 */
export function task<A extends unknown[], R>(
  options: TaskOptions,
  fn: (...args: A) => Promise<R> | R,
): Task<A, R> {
  if (!options || typeof options.name !== "string" || options.name.trim() === "") {
    throw new TypeError('task() needs a name: task({ name: "my-task" }, async (x) => { ... })');
  }
  const retries = Math.max(0, options.retries ?? 0);
  const delayMs = Math.max(0, options.retryDelaySeconds ?? 0) * 1000;
  const call = async (...args: A): Promise<R> => {
    const ctx = runContext.getStore();
    // Untracked (weir run with no server, or outside a flow): no task run is recorded, but the
    // task keeps its retries.
    const reporter = ctx?.reporter;
    const id = Bun.randomUUIDv7();
    reporter?.taskRunStarted({ id, name: options.name, taskKey: options.name });
    const log = ctx ? makeLogger((level, message) => ctx.log[levelKey(level)](message)) : undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const result = ctx
          ? await runContext.run({ ...ctx, taskRunId: reporter ? id : ctx.taskRunId, log: log! }, () =>
              fn(...args),
            )
          : await fn(...args);
        reporter?.taskRunState(id, { type: "COMPLETED" });
        return result;
      } catch (err) {
        if (attempt < retries && !ctx?.signal.aborted) {
          const message = describeError(err);
          const said = `Task ${options.name}: attempt ${attempt + 1} of ${retries + 1} failed: ${message}; retrying in ${delayMs / 1000} s`;
          if (ctx) ctx.log.warning(said);
          else console.error(said);
          reporter?.taskRunState(id, { type: "SCHEDULED", name: "AwaitingRetry", message });
          if (ctx) await pause(delayMs, ctx.signal);
          else await Bun.sleep(delayMs);
          if (!ctx?.signal.aborted) {
            reporter?.taskRunState(id, { type: "RUNNING", name: "Retrying" });
            continue;
          }
        }
        reporter?.taskRunState(id, { type: "FAILED", message: describeError(err) });
        throw err;
      }
    }
  };
  return Object.assign(call, { kind: "weir.task" as const, options });
}

function levelKey(level: number): "debug" | "info" | "warning" | "error" | "critical" {
  if (level >= 50) return "critical";
  if (level >= 40) return "error";
  if (level >= 30) return "warning";
  if (level >= 20) return "info";
  return "debug";
}
