import { WeirError } from "../model/index.ts";
import { DEFAULT_LIMITS, LIMIT_RANGES, LIMIT_SETTINGS, type Limits } from "./limits.ts";

/** The scheduler's settings (see README, Schedules). */
export interface SchedulerSettings {
  /** Keep at least this many future runs per schedule... */
  minRuns: number;
  /** ...and at most this many. */
  maxRuns: number;
  /** Keep runs covering at least this far ahead (ms)... */
  minTimeMs: number;
  /** ...and never further ahead than this (ms). */
  maxTimeMs: number;
  /** A run not started this long after its time is Late (and "missed" for catch-up). */
  lateAfterMs: number;
}

export const DEFAULT_SCHEDULER_SETTINGS: SchedulerSettings = {
  minRuns: 3,
  maxRuns: 100,
  minTimeMs: 3_600_000,
  maxTimeMs: 100 * 86_400_000,
  lateAfterMs: 15_000,
};

/**
 * Everything a Weir process is configured with, read once by the command that starts it
 * (defaults, then WEIR_* variables) and passed down: nothing in core reads these variables itself.
 */
export interface WeirConfig {
  limits: Limits;
  scheduler: SchedulerSettings & { loopMs: number };
  /** An agent silent this long is gone (OFFLINE): its runs are marked crashed. */
  agentTimeoutMs: number;
  /** Most connections to a PostgreSQL database per process (WEIR_DATABASE_POOL_SIZE). */
  databasePoolSize: number;
  /**
   * How often a waiting claim looks again for runs nobody announced (WEIR_CLAIM_RECHECK_MS): runs
   * created through this server, or another on the same PostgreSQL, wake claims at once anyway.
   */
  claimRecheckMs: number;
}

type Env = Record<string, string | undefined>;

function reader(env: Env) {
  return (name: string, fallback: number, min: number, max: number, unit: string): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new WeirError(
        "USAGE",
        `${name}=${raw} is out of range: use a number of ${unit} from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/** The limits, each from its WEIR_* variable when set (checked against its allowed range). */
export function limitsFromEnv(env: Env): Limits {
  const read = reader(env);
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const [min, max] = LIMIT_RANGES[key];
    out[key] = read(
      LIMIT_SETTINGS[key],
      DEFAULT_LIMITS[key],
      min,
      max,
      key.endsWith("Seconds") ? "seconds" : key.endsWith("Bytes") ? "bytes" : "units",
    );
  }
  return out;
}

/** Scheduler settings from WEIR_SCHEDULER_* variables, each checked against its allowed range. */
export function schedulerFromEnv(env: Env): SchedulerSettings & { loopMs: number } {
  const read = reader(env);
  const d = DEFAULT_SCHEDULER_SETTINGS;
  const minRuns = read("WEIR_SCHEDULER_MIN_RUNS", d.minRuns, 3, 100, "runs");
  const maxRuns = read("WEIR_SCHEDULER_MAX_RUNS", d.maxRuns, minRuns, 100, "runs");
  const minTime = read("WEIR_SCHEDULER_MIN_TIME_SECONDS", d.minTimeMs / 1000, 3600, 8_640_000, "seconds");
  const maxTime = read("WEIR_SCHEDULER_MAX_TIME_SECONDS", d.maxTimeMs / 1000, minTime, 8_640_000, "seconds");
  return {
    minRuns,
    maxRuns,
    minTimeMs: minTime * 1000,
    maxTimeMs: maxTime * 1000,
    lateAfterMs: read("WEIR_SCHEDULER_LATE_SECONDS", d.lateAfterMs / 1000, 1, 86_400, "seconds") * 1000,
    loopMs: read("WEIR_SCHEDULER_LOOP_SECONDS", 5, 0.1, 3600, "seconds") * 1000,
  };
}

/** The whole configuration from the environment (cmd/ calls this once per process). */
export function loadConfig(env: Env = process.env): WeirConfig {
  return {
    limits: limitsFromEnv(env),
    scheduler: schedulerFromEnv(env),
    agentTimeoutMs: reader(env)("WEIR_AGENT_TIMEOUT_SECONDS", 25, 1, 86_400, "seconds") * 1000,
    databasePoolSize: reader(env)("WEIR_DATABASE_POOL_SIZE", 10, 1, 1000, "connections"),
    claimRecheckMs: reader(env)("WEIR_CLAIM_RECHECK_MS", 1000, 50, 600_000, "milliseconds"),
  };
}
