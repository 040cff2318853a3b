import type { FlowRun } from "../model/index.ts";
import { createFlowRuns, type FlowRunInput } from "./flow-runs.ts";
import type { Db } from "./open-store.ts";

const MAX_BATCH = 200;

/**
 * Group commit for run creation: while one batch is being written, new requests queue and go in
 * the next batch, so concurrent clients share transactions instead of each paying for one. A lone
 * request is written at once; nothing waits on a timer.
 */
export class FlowRunWriter {
  #queue: { input: FlowRunInput; resolve: (r: FlowRun) => void; reject: (e: unknown) => void }[] = [];
  #writing = false;

  constructor(private readonly db: Db) {}

  create(input: FlowRunInput): Promise<FlowRun> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        try {
          const runs = await createFlowRuns(
            this.db,
            batch.map((b) => b.input),
          );
          batch.forEach((b, i) => b.resolve(runs[i]!));
        } catch (err) {
          // One bad input must not fail its neighbours: retry each on its own.
          if (batch.length === 1) batch[0]!.reject(err);
          else
            for (const b of batch) createFlowRuns(this.db, [b.input]).then((r) => b.resolve(r[0]!), b.reject);
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}
