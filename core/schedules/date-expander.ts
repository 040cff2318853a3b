import type { SchedulerSettings } from "../config/index.ts";
import { WeirError, workerModule } from "../model/index.ts";
import { type DateJob, runDateJob } from "./date-job.ts";

interface Pending {
  id: number;
  job: DateJob;
  resolve: (dates: number[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Answers "when does this schedule run" with a hard time box. Interval and cron schedules are
 * computed here (their work is bounded); RRULE schedules, whose expansion can take unbounded time
 * for rules that rarely or never match, go to a worker thread, one job at a time. A job that passes
 * the time box ends that thread (a new one starts for the next job) and fails with a message
 * saying so, so no schedule can stall the scheduler or a request.
 */
export class DateExpander {
  #worker: Worker | null = null;
  #queue: Pending[] = [];
  #current: Pending | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #idle: ReturnType<typeof setTimeout> | null = null;
  #next = 1;

  /**
   * @param timeBoxMs how long one job may take (WEIR_SCHEDULE_TIME_BOX_MS)
   * @param maxQueue jobs that may wait at once; more are refused as BUSY, so one client sending
   *   many slow rules cannot make everyone else's wait grow without bound
   */
  constructor(
    readonly timeBoxMs: number,
    readonly maxQueue = Number.POSITIVE_INFINITY,
  ) {}

  /** The next `n` run times at or after `after` (and up to `end`). */
  next(spec: Record<string, unknown>, q: { after: number; n: number; end?: number }): Promise<number[]> {
    return this.#run({ op: "next", spec, ...q, timeBoxMs: this.timeBoxMs });
  }

  /** The run times the scheduler needs for a schedule from `from` (see selectRunTimes). */
  select(
    spec: Record<string, unknown>,
    from: number,
    now: number,
    settings: SchedulerSettings,
  ): Promise<number[]> {
    return this.#run({ op: "select", spec, from, now, settings, timeBoxMs: this.timeBoxMs });
  }

  /** Ends the worker thread, if one runs; later jobs start a new one. */
  close(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#worker?.terminate();
    this.#worker = null;
  }

  #run(job: DateJob): Promise<number[]> {
    if (typeof job.spec.rrule !== "string") {
      try {
        return Promise.resolve(runDateJob(job));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.#queue.length >= this.maxQueue) {
      return Promise.reject(
        new WeirError(
          "BUSY",
          `${this.#queue.length + 1} rrule schedules are waiting to be checked; try again in a few seconds`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#next++, job, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#current || this.#queue.length === 0) return;
    if (this.#idle) clearTimeout(this.#idle);
    const p = this.#queue.shift()!;
    this.#current = p;
    this.#thread().postMessage({ id: p.id, job: p.job });
    // The expansion checks the time box itself between windows; this catches the rest.
    this.#timer = setTimeout(() => {
      this.close();
      this.#settle(
        p.id,
        new WeirError(
          "INVALID",
          `computing the run times of rrule ${JSON.stringify(p.job.spec.rrule)} took over ${this.timeBoxMs} ms (WEIR_SCHEDULE_TIME_BOX_MS) and was stopped: it may never match; simplify it, or use a cron or interval schedule`,
          { fields: { reason: "time_box" } },
        ),
      );
    }, this.timeBoxMs + 100);
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(
      workerModule("core/schedules/date-worker", new URL("./date-worker.ts", import.meta.url)),
    );
    w.onmessage = (e: MessageEvent<{ id: number; dates?: number[]; error?: string }>) => {
      const { id, dates, error } = e.data;
      this.#settle(id, error === undefined ? (dates ?? []) : new WeirError("INVALID", error));
    };
    w.onerror = (e) => {
      this.close();
      if (this.#current)
        this.#settle(this.#current.id, new WeirError("FAILED", `schedule worker failed: ${e.message}`));
    };
    w.unref();
    this.#worker = w;
    return w;
  }

  #settle(id: number, result: number[] | Error): void {
    const p = this.#current;
    if (!p || p.id !== id) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#current = null;
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
    if (this.#queue.length > 0) this.#pump();
    // A server with no rrule schedules in use keeps no thread for them.
    else this.#idle = setTimeout(() => this.close(), 30_000);
    this.#idle?.unref?.();
  }
}
