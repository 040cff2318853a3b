import { describeError } from "../model/index.ts";
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
  const call = async (...args: A): Promise<R> => {
    const ctx = runContext.getStore();
    if (!ctx?.reporter) return fn(...args);
    const id = Bun.randomUUIDv7();
    ctx.reporter.taskRunStarted({ id, name: options.name, taskKey: options.name });
    const log = makeLogger((level, message) => ctx.log[levelKey(level)](message));
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await runContext.run({ ...ctx, taskRunId: id, log }, () => fn(...args));
        ctx.reporter.taskRunState(id, { type: "COMPLETED" });
        return result;
      } catch (err) {
        if (attempt < retries && !ctx.signal.aborted) {
          ctx.reporter.taskRunState(id, {
            type: "SCHEDULED",
            name: "AwaitingRetry",
            message: describeError(err),
          });
          await Bun.sleep((options.retryDelaySeconds ?? 0) * 1000);
          ctx.reporter.taskRunState(id, { type: "RUNNING", name: "Retrying" });
          continue;
        }
        ctx.reporter.taskRunState(id, { type: "FAILED", message: describeError(err) });
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
