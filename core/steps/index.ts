export { resolveStep, runSteps, type StepContext, type StepFn } from "./run-steps.ts";
