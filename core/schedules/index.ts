export { type DateQuery, hasDatesAfter, iterateDates, nextDates } from "./next-dates.ts";
export {
  assertDeployable,
  compileSchedule,
  parseIntervalSeconds,
  type Schedule,
  type ScheduleSpec,
  scheduleSpec,
} from "./schedule.ts";
export { formatInZone, isValidTimezone } from "./tz.ts";
