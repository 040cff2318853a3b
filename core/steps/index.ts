export { checkKwargs, splitCommand } from "./builtins.ts";
export { registerStep, resolveStep, runSteps, type StepContext, type StepFn, scrub } from "./run-steps.ts";
