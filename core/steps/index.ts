export { checkKwargs, splitCommand } from "./builtins.ts";
export {
  missingPlugin,
  registerStep,
  resolveStep,
  runSteps,
  type StepContext,
  type StepFn,
  type StepNameProblem,
  scrub,
  stepNameProblem,
  stepShapeProblem,
} from "./run-steps.ts";
