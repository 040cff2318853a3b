export {
  defineInfrastructure,
  type InfraExit,
  type InfraHandle,
  type Infrastructure,
  type JobVariablesSchema,
  type LaunchContext,
} from "./infrastructure.ts";
export {
  type BaseJobTemplate,
  baseJobTemplateProblems,
  checkJobVariables,
  defaultBaseJobTemplate,
  envVariable,
  jobConfiguration,
  jobVariableProblems,
  labelsVariable,
  mergeJobVariables,
  nameVariable,
  templateDefaults,
  templateOf,
  variable,
} from "./job-variables.ts";
export { processInfrastructure, stringEnv } from "./process.ts";
export { selfCommand } from "./self-command.ts";
