import type { Plugin } from "../plugin/index.ts";
import { Registry } from "../plugin/index.ts";
import { corePlugin } from "./core-plugin.ts";

export { splitCommand } from "../model/index.ts";
export { corePlugin } from "./core-plugin.ts";
export { lineProgress, type ProgressSink, terminalProgress } from "./progress.ts";
export { bytes, ignoreFileFor, type LocalFile, objectKey, projectFiles } from "./project-files.ts";
export { runSteps, type StepsOptions, stepShapeProblem } from "./run-steps.ts";
export { scrub, scrubJson, scrubValue, stepContext } from "./step-context.ts";
export { abortable, describeUpload, inParallel, saveUnder, withRetries } from "./transfer.ts";

/** The registry of this build: Weir's built-in steps and block types, then the given plugins. */
export function createRegistry(plugins: readonly Plugin[]): Registry {
  return new Registry([corePlugin, ...plugins]);
}
