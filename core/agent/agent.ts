import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WeirClient } from "../client/index.ts";
import { jobEnv, launchProcess, type RunningProcess } from "../infra/index.ts";
import { describeError, type FlowRun, isTerminal, WeirError } from "../model/index.ts";

export interface AgentOptions {
  client: WeirClient;
  pool: string;
  /** Queues to take work from; empty means every queue of the pool. */
  queues: string[];
  /** Most flow runs running at once. */
  limit: number;
  name: string;
  /** argv prefix that starts this binary (see selfCommand()). */
  command: string[];
  heartbeatMs?: number;
  /** How long one claim request waits on the server for work. */
  pollWaitMs?: number;
  log: (message: string) => void;
}

/**
 * Polls a work pool and starts each claimed flow run as its own process. Claims are long polls,
 * so a new run starts within milliseconds; heartbeats report liveness and bring back
 * cancellations; a process that exits without a final state leaves its run CRASHED.
 */
export class Agent {
  readonly id = Bun.randomUUIDv7();
  /** `done` settles after the exit has been recorded, not merely when the process exits. */
  readonly #running = new Map<string, { run: FlowRun; proc: RunningProcess; done: Promise<void> }>();
  readonly #stop = new AbortController();
  /** Runs this agent has already sent SIGTERM to. */
  readonly #cancelSent = new Set<string>();
  #slotFreed: (() => void) | null = null;
  #loop: Promise<void> | null = null;

  constructor(readonly opts: AgentOptions) {}

  get runningCount(): number {
    return this.#running.size;
  }

  async start(): Promise<void> {
    const { client, pool } = this.opts;
    const wp = await client.createWorkPool({ name: pool, type: "process" }, true);
    this.opts.log(
      `Agent ${this.opts.name} started: pool "${wp.name}" (${wp.type}), queues ${this.opts.queues.length ? this.opts.queues.join(", ") : "all"}, limit ${this.opts.limit}, API ${client.baseUrl}`,
    );
    await this.#heartbeat();
    this.#loop = Promise.all([this.#claimLoop(), this.#heartbeatLoop()]).then(() => undefined);
  }

  /** Stops taking work and resolves when every running flow has finished. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#slotFreed?.();
    await this.#loop;
    while (this.#running.size > 0) await Promise.race([...this.#running.values()].map((r) => r.done));
    await Bun.sleep(0);
  }

  /** Kills every running flow process (their runs end CRASHED). */
  killAll(): void {
    for (const { proc } of this.#running.values()) proc.kill("SIGKILL");
  }

  async #claimLoop(): Promise<void> {
    const { client, pool } = this.opts;
    let backoff = 0;
    while (!this.#stop.signal.aborted) {
      // With every slot busy the claim still goes out with limit 0: it is how cancellations
      // arrive. A slot freeing up ends that wait early, so new work is claimed at once.
      const free = Math.max(0, this.opts.limit - this.#running.size);
      const request = new AbortController();
      const onStop = () => request.abort();
      this.#stop.signal.addEventListener("abort", onStop, { once: true });
      if (free === 0) this.#slotFreed = () => request.abort();
      try {
        const res = await client.claim(
          pool,
          {
            agent_id: this.id,
            queues: this.opts.queues,
            limit: free,
            wait_ms: this.opts.pollWaitMs ?? 20_000,
            cancelling_seen: [...this.#cancelSent],
          },
          request.signal,
        );
        backoff = 0;
        this.#cancel(res.cancelling);
        for (const run of res.flow_runs) this.#launch(run);
      } catch (err) {
        if (request.signal.aborted) continue;
        backoff = Math.min(backoff ? backoff * 2 : 500, 10_000);
        this.opts.log(`Could not claim work (${describeError(err)}); retrying in ${backoff} ms`);
        // stopping does not wait for the back-off
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoff);
          const wake = () => {
            clearTimeout(t);
            resolve();
          };
          this.#stop.signal.addEventListener("abort", wake, { once: true });
        });
      } finally {
        this.#stop.signal.removeEventListener("abort", onStop);
        this.#slotFreed = null;
      }
    }
  }

  #launch(run: FlowRun): void {
    // Each run starts in a folder of its own (Prefect's process worker does the same), removed
    // when it ends, unless the working_dir job variable names one: pull steps that download or
    // clone code then never meet another run's files.
    const explicit =
      typeof run.job_variables.working_dir === "string" ? run.job_variables.working_dir : undefined;
    let cwd = explicit;
    let proc: RunningProcess;
    try {
      cwd ??= mkdtempSync(join(tmpdir(), `weir-run-${run.id.slice(-12)}-`));
      proc = launchProcess(run, {
        command: this.opts.command,
        apiUrl: this.opts.client.baseUrl,
        env: jobEnv(run.job_variables),
        cwd,
      });
    } catch (err) {
      if (!explicit && cwd) rmSync(cwd, { recursive: true, force: true });
      this.opts.log(`Could not start flow run ${run.name} (${run.id}): ${describeError(err)}`);
      void this.opts.client
        .setFlowRunState(run.id, {
          type: "CRASHED",
          message: `Could not start the process: ${describeError(err)}`,
        })
        .catch(() => {});
      return;
    }
    const done = proc.exited.then(async ({ code, signal }) => {
      try {
        await this.#afterExit(run, code, signal);
      } finally {
        if (!explicit && cwd) rmSync(cwd, { recursive: true, force: true });
        this.#running.delete(run.id);
        this.#cancelSent.delete(run.id);
        this.#slotFreed?.();
      }
    });
    this.#running.set(run.id, { run, proc, done });
    this.opts.log(`Started flow run ${run.name} (${run.id}) as process ${proc.pid}`);
  }

  async #afterExit(run: FlowRun, code: number | null, signal: string | null): Promise<void> {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    // `weir execute` exits 0 only after the server accepted COMPLETED: nothing to check.
    if (code === 0 && !signal) {
      this.opts.log(`Flow run ${run.name} (${run.id}) finished: Completed`);
      return;
    }
    try {
      const current = await this.opts.client.getFlowRun(run.id);
      if (isTerminal(current.state.type)) {
        this.opts.log(`Flow run ${run.name} (${run.id}) finished: ${current.state.name}`);
        return;
      }
      const final =
        current.state.type === "CANCELLING"
          ? { type: "CANCELLED" as const, message: `Cancelled; the process ${how}` }
          : {
              type: "CRASHED" as const,
              message: `The flow run process ${how} before the run reached a final state`,
            };
      await this.opts.client.setFlowRunState(run.id, final);
      this.opts.log(
        `Flow run ${run.name} (${run.id}) ${final.type === "CRASHED" ? "crashed" : "was cancelled"}: the process ${how}`,
      );
    } catch (err) {
      if (err instanceof WeirError && err.code === "CONFLICT") return;
      this.opts.log(`Could not record the end of flow run ${run.id}: ${describeError(err)}`);
    }
  }

  async #heartbeat(): Promise<void> {
    const res = await this.opts.client.heartbeat({
      id: this.id,
      name: this.opts.name,
      work_pool_name: this.opts.pool,
      work_queues: this.opts.queues,
    });
    this.#cancel(res.cancelling);
  }

  #cancel(ids: string[]): void {
    for (const id of ids) {
      const r = this.#running.get(id);
      if (r && !this.#cancelSent.has(id)) {
        this.#cancelSent.add(id);
        this.opts.log(`Cancelling flow run ${r.run.name} (${id})`);
        r.proc.kill("SIGTERM");
      }
    }
  }

  async #heartbeatLoop(): Promise<void> {
    const every = this.opts.heartbeatMs ?? 5_000;
    while (!this.#stop.signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, every);
        this.#stop.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
      if (this.#stop.signal.aborted) break;
      await this.#heartbeat().catch((err) => this.opts.log(`Heartbeat failed: ${describeError(err)}`));
    }
  }
}
