export { DateExpander } from "./date-expander.ts";
export { type DateQuery, hasDatesAfter, iterateDates, nextDates, runlessNote } from "./next-dates.ts";
export {
  assertDeployable,
  type CompileOptions,
  compileSchedule,
  parseIntervalSeconds,
  type Schedule,
  type ScheduleSpec,
  scheduleSpec,
} from "./schedule.ts";
export { selectRunTimes } from "./select-run-times.ts";
export { formatInZone, isValidTimezone } from "./tz.ts";
