import { describeError } from "../model/index.ts";
import { DateExpander } from "../schedules/index.ts";
import type { Store } from "../store/index.ts";
import { type PassResult, type SchedulerSettings, schedulePass } from "./schedule-pass.ts";

/**
 * The scheduler service: a pass every loop, plus `kick()` to schedule changed deployments at once.
 * Passes never overlap within a process; across processes the database keeps them idempotent.
 */
export class Scheduler {
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly store: Store,
    private readonly settings: SchedulerSettings & { loopMs: number },
    private readonly log: (msg: string) => void = () => {},
    private readonly onCreated: (r: PassResult) => void = () => {},
    /** Computes run times under a time box (shared with the API that validates schedules). */
    private readonly expander = new DateExpander(1000),
  ) {}

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running.catch(() => {});
    this.expander.close();
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
    const r = await schedulePass(this.store, this.settings, { deploymentIds, expander: this.expander });
    if (r.created || r.late || r.skipped || r.failed) {
      this.log(
        `scheduler: ${r.created} run(s) created, ${r.late} late, ${r.skipped} skipped by catch-up${r.failed ? `, ${r.failed} schedule(s) failed (see weir deployment schedule ls)` : ""} (${r.ms.toFixed(0)} ms)`,
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
