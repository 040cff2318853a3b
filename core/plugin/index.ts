export {
  type CommandResult,
  definePlugin,
  defineStep,
  type Plugin,
  type RunOptions,
  type StepContext,
  type StepDefinition,
  type StepOutput,
} from "./plugin.ts";
export { type ArgumentProblem, MODULE_STEP, Registry, type StepNameProblem } from "./registry.ts";
