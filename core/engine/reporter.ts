import type { WeirClient } from "../client/index.ts";
import { describeError, type StateProposal } from "../model/index.ts";
import type { Reporter } from "../sdk/context.ts";

/**
 * Sends task-run reports to the API in the background, in order, so task code never waits on an
 * HTTP round trip. `flush()` waits for everything sent so far (before a final state is set).
 */
export class ApiReporter implements Reporter {
  #chain: Promise<void> = Promise.resolve();
  #failed = false;

  constructor(
    private readonly client: WeirClient,
    private readonly flowRunId: string,
    private readonly warn: (msg: string) => void,
  ) {}

  #enqueue(op: () => Promise<unknown>): void {
    this.#chain = this.#chain.then(op).then(
      () => undefined,
      (err) => {
        if (!this.#failed) this.warn(`Could not record a task run: ${describeError(err)}`);
        this.#failed = true;
      },
    );
  }

  taskRunStarted(t: { id: string; name: string; taskKey: string }): void {
    this.#enqueue(() =>
      this.client.createTaskRun({
        id: t.id,
        flow_run_id: this.flowRunId,
        name: t.name,
        task_key: t.taskKey,
        state: { type: "RUNNING" },
      }),
    );
  }

  taskRunState(id: string, state: StateProposal): void {
    this.#enqueue(() => this.client.setTaskRunState(id, state));
  }

  flush(): Promise<void> {
    return this.#chain;
  }
}
