import { untilAnswered, type WeirClient } from "../client/index.ts";
import { type LogEntry, WeirError } from "../model/index.ts";

const FLUSH_MS = 100;
const MAX_BATCH = 500;
/** Characters of message text per request: far below the server's body limit (16 MB by default). */
const MAX_BATCH_CHARS = 1 << 20;
/** The server's default longest log message (WEIR_MAX_LOG_MESSAGE_LENGTH). */
const MAX_MESSAGE = 64 * 1024;

/** Batches a run's log lines to the API: every 100 ms or 500 lines, and on close(). */
export class LogShipper {
  #buffer: Omit<LogEntry, "id">[] = [];
  #chars = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #sending: Promise<void> = Promise.resolve();
  #warned = false;

  constructor(
    private readonly client: WeirClient,
    private readonly flowRunId: string,
    /** Called when the server refuses lines because the run has already finished. */
    private readonly onRunEnded?: (reason: string) => void,
  ) {}

  add(level: number, message: string, name: string, taskRunId: string | null = null): void {
    const timestamp = new Date().toISOString();
    // A line longer than the server takes by default goes as several lines, nothing cut off.
    for (let i = 0; i === 0 || i < message.length; i += MAX_MESSAGE) {
      this.#buffer.push({
        flow_run_id: this.flowRunId,
        task_run_id: taskRunId,
        name,
        level,
        message: message.slice(i, i + MAX_MESSAGE),
        timestamp,
      });
      this.#chars += Math.min(MAX_MESSAGE, message.length - i) + 100;
    }
    if (this.#buffer.length >= MAX_BATCH || this.#chars >= MAX_BATCH_CHARS) this.#send();
    else this.#timer ??= setTimeout(() => this.#send(), FLUSH_MS);
  }

  #send(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#buffer.length === 0) return;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#chars = 0;
    this.#sending = this.#sending.then(() =>
      this.#deliver(batch).then(
        () => undefined,
        (err) => {
          if (err instanceof WeirError && err.code === "CONFLICT") this.onRunEnded?.(err.message);
          if (!this.#warned)
            console.error(
              `weir: could not ship ${batch.length} log line(s) to the API: ${(err as Error).message}`,
            );
          this.#warned = true;
        },
      ),
    );
  }

  /** Sends a batch, retrying with backoff while no server answers (in order: later batches wait). */
  async #deliver(batch: Omit<LogEntry, "id">[]): Promise<void> {
    try {
      await untilAnswered(() => this.client.sendLogs(batch), {
        deadline: Date.now() + this.client.reportRetryMs,
      });
    } catch (err) {
      // A server with a smaller body limit: the batch goes in halves, no line lost.
      if (!(err instanceof WeirError && (err.code as string) === "TOO_LARGE" && batch.length > 1)) throw err;
      const half = Math.ceil(batch.length / 2);
      await this.#deliver(batch.slice(0, half));
      await this.#deliver(batch.slice(half));
    }
  }

  /** Sends what is buffered and waits for every batch to be delivered. */
  async close(): Promise<void> {
    this.#send();
    await this.#sending;
  }
}
