import type { Deployment, FlowRun } from "../model/index.ts";
import { deploymentNotFound } from "./deployments.ts";
import type { FlowRunInput } from "./flow-runs.ts";
import type { Store } from "./store.ts";

const MAX_BATCH = 200;

interface Pending {
  deploymentId: string;
  /** Builds the run from its deployment; throwing rejects this request alone (bad parameters). */
  prepare: (d: Deployment) => FlowRunInput;
  resolve: (r: FlowRun) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for creating runs of deployments: while one batch is being written, new requests
 * queue and go in the next, which reads all their deployments in one query and inserts all their
 * runs in one transaction. A lone request waits one turn of the event loop, never a timer.
 */
export class FlowRunWriter {
  #queue: Pending[] = [];
  #writing = false;

  constructor(private readonly store: Store) {}

  createForDeployment(deploymentId: string, prepare: (d: Deployment) => FlowRunInput): Promise<FlowRun> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ deploymentId, prepare, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        // The embedded driver answers synchronously, so without this turn of the event loop no
        // other request would ever be read in between and every batch would hold one run.
        await new Promise((r) => setImmediate(r));
        await this.#write(this.#queue.splice(0, MAX_BATCH));
      }
    } finally {
      this.#writing = false;
    }
  }

  async #write(batch: Pending[]): Promise<void> {
    let found: Map<string, Deployment>;
    try {
      found = await this.store.getDeploymentsByIds([...new Set(batch.map((b) => b.deploymentId))]);
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    const ready: { p: Pending; input: FlowRunInput }[] = [];
    for (const p of batch) {
      const d = found.get(p.deploymentId);
      if (!d) {
        p.reject(deploymentNotFound(p.deploymentId));
        continue;
      }
      try {
        ready.push({ p, input: p.prepare(d) });
      } catch (err) {
        p.reject(err);
      }
    }
    if (ready.length === 0) return;
    try {
      const runs = await this.store.createFlowRuns(ready.map((r) => r.input));
      for (const [i, r] of ready.entries()) r.p.resolve(runs[i]!);
    } catch (err) {
      // One bad row must not fail its neighbours: write each on its own.
      if (ready.length === 1) ready[0]!.p.reject(err);
      else
        for (const r of ready)
          this.store.createFlowRuns([r.input]).then((x) => r.p.resolve(x[0]!), r.p.reject);
    }
  }
}
