export {
  DEFAULT_SCHEDULER_SETTINGS,
  limitsFromEnv,
  loadConfig,
  type SchedulerSettings,
  schedulerFromEnv,
  type WeirConfig,
} from "./config.ts";
export { DEFAULT_LIMITS, LIMIT_SETTINGS, type Limits } from "./limits.ts";
