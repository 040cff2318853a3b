export { executeFlowRun } from "./execute.ts";
export { primeFlowImports, registerFlowModules } from "./flow-modules.ts";
export { loadFlow, parseEntrypoint, TS_LIKE } from "./load-flow.ts";
export { watchParent } from "./parent-watch.ts";
export { makeResolver } from "./resolver.ts";
export { type RunFlowOptions, type RunFlowResult, runFlow, StopRun } from "./run-flow.ts";
