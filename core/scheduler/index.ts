export { DEFAULT_SETTINGS, type PassResult, type SchedulerSettings, schedulePass } from "./schedule-pass.ts";
export { Scheduler } from "./service.ts";
