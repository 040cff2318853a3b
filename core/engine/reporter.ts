import { untilAnswered, type WeirClient } from "../client/index.ts";
import {
  DEFAULT_STATE_NAMES,
  describeError,
  isTerminal,
  type StateProposal,
  type TaskRunSnapshot,
} from "../model/index.ts";
import type { Reporter } from "../sdk/context.ts";
import { scrubValue } from "../steps/index.ts";

/** How long a task-run change may wait to be sent with the ones after it. */
const REPORT_DELAY_MS = 20;
/** Most task runs in one request, well inside the server's default batch and body limits. */
const BATCH = 500;
/** Most task runs, and bytes of them, that ride along with a state (see drain()); more go before it. */
const RIDE = 100;
const RIDE_BYTES = 256 * 1024;

/**
 * Reports task runs in the background so task code never waits on the API. The engine keeps each
 * task run's state and history itself and sends the changed ones whole: a change waits up to
 * REPORT_DELAY_MS for the ones after it, and the ones made while a request is in flight go
 * together in the next. A flow of many tasks costs a few requests, not two per task, and a short
 * flow none: `drain()` hands what is left to ride with the run's next state. `flush()` waits until
 * everything is delivered.
 */
export class ApiReporter implements Reporter {
  readonly #snapshots = new Map<string, TaskRunSnapshot>();
  readonly #dirty = new Set<string>();
  #inflight: Promise<void> | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #warned = false;

  constructor(
    private readonly client: WeirClient,
    private readonly flowRunId: string,
    private readonly warn: (msg: string) => void,
    /** Secrets the run resolved: scrubbed from task runs' messages before they are sent. */
    private readonly secrets: readonly string[] = [],
  ) {}

  taskRunStarted(t: { id: string; name: string; taskKey: string }): void {
    const now = new Date().toISOString();
    this.#snapshots.set(t.id, {
      id: t.id,
      flow_run_id: this.flowRunId,
      name: t.name,
      task_key: t.taskKey,
      state: { type: "RUNNING", name: "Running", timestamp: now },
      start_time: now,
      end_time: null,
      run_count: 1,
      history: [{ type: "RUNNING", name: "Running", timestamp: now }],
    });
    this.#changed(t.id);
  }

  taskRunState(id: string, p: StateProposal): void {
    const snap = this.#snapshots.get(id);
    if (!snap) return;
    const now = new Date().toISOString();
    const name = p.name ?? DEFAULT_STATE_NAMES[p.type];
    snap.state = { type: p.type, name, message: p.message ?? null, timestamp: now };
    snap.history.push(
      p.message
        ? { type: p.type, name, timestamp: now, message: p.message }
        : { type: p.type, name, timestamp: now },
    );
    if (p.type === "RUNNING") snap.run_count++;
    if (isTerminal(p.type)) snap.end_time = now;
    this.#changed(id);
  }

  #changed(id: string): void {
    this.#dirty.add(id);
    // A request in flight takes it with the next batch; else the batch waits a moment to fill.
    if (this.#inflight || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#inflight ??= this.#send();
    }, REPORT_DELAY_MS);
  }

  #stopTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #send(): Promise<void> {
    while (this.#dirty.size > 0) {
      const batch = [...this.#dirty].slice(0, BATCH).map((id) => this.#snapshots.get(id)!);
      for (const t of batch) this.#dirty.delete(t.id);
      try {
        // Retried while no server answers (a restart), as log lines and states are: a task that
        // ended meanwhile is recorded once the server is back.
        const scrubbed = scrubValue(batch, this.secrets);
        await untilAnswered(() => this.client.writeTaskRuns(scrubbed), {
          deadline: Date.now() + this.client.reportRetryMs,
        });
      } catch (err) {
        if (!this.#warned) this.warn(`Could not record task runs: ${describeError(err)}`);
        this.#warned = true;
      }
    }
    this.#inflight = null;
  }

  async flush(): Promise<void> {
    this.#stopTimer();
    if (this.#dirty.size > 0) this.#inflight ??= this.#send();
    while (this.#inflight) await this.#inflight;
  }

  /**
   * Waits for the request in flight, then takes the changes not yet sent for the caller to send
   * with the run's next state (POST set_state with task_runs): they are this reporter's no more.
   * More than RIDE of them (or RIDE_BYTES) are sent on their own instead, and none is returned.
   */
  async drain(): Promise<TaskRunSnapshot[]> {
    this.#stopTimer();
    while (this.#inflight) await this.#inflight;
    const batch = this.#dirty.size > RIDE ? [] : [...this.#dirty].map((id) => this.#snapshots.get(id)!);
    if (this.#dirty.size > RIDE || JSON.stringify(batch).length > RIDE_BYTES) {
      await this.flush();
      return [];
    }
    this.#dirty.clear();
    return batch;
  }
}
