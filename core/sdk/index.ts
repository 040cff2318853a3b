// What user flows import as "weir". The binary serves this module to flow files at run time, so
// a flow needs nothing installed. `weir types` writes its declarations for editors, generated from
// this source when the binary is built (scripts/sdk-types.ts).

import { currentContext, currentLogger } from "./context.ts";
import type { Logger } from "./logger.ts";

export { type DeployOptions, deploy, type ScheduleSpec } from "./deploy.ts";
export { SubflowFailed } from "./errors.ts";
export { type Flow, type FlowContext, type FlowOptions, flow, isFlow } from "./flow.ts";
export type { Logger } from "./logger.ts";
export { type DeploymentRun, type RunDeploymentOptions, runDeployment } from "./run-deployment.ts";
export { type ServeOptions, serve } from "./serve.ts";
export { type Task, type TaskOptions, task } from "./task.ts";

/** Logs to the current flow or task run (shipped to the API), or to the console outside one. */
export const log: Logger = {
  debug: (...a) => currentLogger().debug(...a),
  info: (...a) => currentLogger().info(...a),
  warning: (...a) => currentLogger().warning(...a),
  warn: (...a) => currentLogger().warning(...a),
  error: (...a) => currentLogger().error(...a),
  critical: (...a) => currentLogger().critical(...a),
};

/** The id of the flow run this code runs in, if any. */
export function flowRunId(): string | null {
  return currentContext()?.flowRunId ?? null;
}
