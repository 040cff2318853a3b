import { describeError, WeirError } from "../model/index.ts";
import type { Db } from "../store/index.ts";
import { DEFAULT_SETTINGS, type PassResult, type SchedulerSettings, schedulePass } from "./schedule-pass.ts";

/** Settings from WEIR_SCHEDULER_* variables, each checked against its allowed range. */
export function settingsFromEnv(
  env: Record<string, string | undefined> = process.env,
): SchedulerSettings & { loopMs: number } {
  const read = (name: string, fallback: number, min: number, max: number, unit: string): number => {
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
  const minRuns = read("WEIR_SCHEDULER_MIN_RUNS", DEFAULT_SETTINGS.minRuns, 3, 100, "runs");
  const maxRuns = read("WEIR_SCHEDULER_MAX_RUNS", DEFAULT_SETTINGS.maxRuns, minRuns, 100, "runs");
  const minTime = read(
    "WEIR_SCHEDULER_MIN_TIME_SECONDS",
    DEFAULT_SETTINGS.minTimeMs / 1000,
    3600,
    8_640_000,
    "seconds",
  );
  const maxTime = read(
    "WEIR_SCHEDULER_MAX_TIME_SECONDS",
    DEFAULT_SETTINGS.maxTimeMs / 1000,
    minTime,
    8_640_000,
    "seconds",
  );
  return {
    minRuns,
    maxRuns,
    minTimeMs: minTime * 1000,
    maxTimeMs: maxTime * 1000,
    lateAfterMs:
      read("WEIR_SCHEDULER_LATE_SECONDS", DEFAULT_SETTINGS.lateAfterMs / 1000, 1, 86_400, "seconds") * 1000,
    loopMs: read("WEIR_SCHEDULER_LOOP_SECONDS", 5, 0.1, 3600, "seconds") * 1000,
  };
}

/**
 * The scheduler service: a pass every loop, plus `kick()` to schedule changed deployments at once.
 * Passes never overlap within a process; across processes the database keeps them idempotent.
 */
export class Scheduler {
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly db: Db,
    private readonly settings: SchedulerSettings & { loopMs: number },
    private readonly log: (msg: string) => void = () => {},
    private readonly onCreated: (r: PassResult) => void = () => {},
  ) {}

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running.catch(() => {});
  }

  /** Runs a pass for these deployments now (after any pass already under way). */
  kick(deploymentIds?: string[]): Promise<PassResult> {
    const run = this.#running.then(
      () => this.#pass(deploymentIds),
      () => this.#pass(deploymentIds),
    );
    this.#running = run.catch(() => {});
    return run;
  }

  async #pass(deploymentIds?: string[]): Promise<PassResult> {
    const r = await schedulePass(this.db, this.settings, { deploymentIds });
    if (r.created || r.late || r.skipped) {
      this.log(
        `scheduler: ${r.created} run(s) created, ${r.late} late, ${r.skipped} skipped by catch-up (${r.ms.toFixed(0)} ms)`,
      );
    }
    if (r.created) this.onCreated(r);
    return r;
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.kick()
        .catch((err) => this.log(`scheduler: pass failed: ${describeError(err)}`))
        .finally(() => this.#schedule(this.settings.loopMs));
    }, delay);
  }
}
