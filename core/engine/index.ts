export { executeFlowRun } from "./execute.ts";
export { loadFlow, parseEntrypoint } from "./load-flow.ts";
export { type RunFlowOptions, type RunFlowResult, runFlow } from "./run-flow.ts";
export { registerFlowModules } from "./flow-modules.ts";
