export {
  defineInfrastructure,
  type InfraExit,
  type InfraHandle,
  type Infrastructure,
  type JobVariablesSchema,
  type LaunchContext,
  runVariables,
  type Warmed,
  type WarmOptions,
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
  runtimeEnvProblems,
  templateDefaults,
  templateOf,
  variable,
  withRuleMessage,
} from "./job-variables.ts";
export {
  forgetServerSecrets,
  type Handoff,
  processInfrastructure,
  runFolder,
  runFoldersRemoved,
  runtimeStartVariables,
  SERVER_SECRETS,
  stringEnv,
} from "./process.ts";
export { selfCommand } from "./self-command.ts";
