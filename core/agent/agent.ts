import { resolve } from "node:path";
import * as v from "valibot";
import { shownAddress, untilAnswered, type WeirClient } from "../client/index.ts";
import { makeResolver } from "../engine/index.ts";
import {
  type BaseJobTemplate,
  forgetServerSecrets,
  type InfraExit,
  type InfraHandle,
  type Infrastructure,
  jobConfiguration,
  runFoldersRemoved,
  runtimeEnvProblems,
  templateOf,
  type Warmed,
} from "../infra/index.ts";
import {
  type Deployment,
  describeError,
  didYouMean,
  type FlowRun,
  isTerminal,
  pause,
  WeirError,
} from "../model/index.ts";
import type { Registry } from "../plugin/index.ts";
import type { Flow } from "../sdk/flow.ts";
import { scrub } from "../steps/index.ts";
import { launchInline, needsOwnProcess } from "./inline.ts";

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
  /** The plugins of this build: the pool's type picks the infrastructure from them. */
  registry: Registry;
  /** The type a pool created by this agent gets (an existing pool keeps its own; default "process"). */
  poolType?: string;
  /** How long a cancelled run's infrastructure has to stop before it is killed (default 30 s). */
  killGraceMs?: number;
  heartbeatMs?: number;
  /**
   * Executors the infrastructure keeps started ahead of runs (process: `weir execute --warm`
   * processes), so a run does not wait for a runtime to start. Default 2 (at most `limit`).
   */
  prewarm?: number;
  /**
   * "process" (default): every flow run in a process of its own. "none" (process pools only):
   * flows run inside the agent's process, see launchInline for what that gives up.
   */
  isolation?: "process" | "none";
  /**
   * Folders a process run may work in besides its own temporary one (pull steps' directories,
   * working_dir): default the folder the agent started in.
   */
  allowDirs?: string[];
  /**
   * With `isolation: "none"`: the flow of a run when the caller holds it already (serve()), so
   * it is not imported from the entrypoint.
   */
  flows?: (run: FlowRun) => Flow | undefined;
  /** How long one claim request waits on the server for work. */
  pollWaitMs?: number;
  log: (message: string) => void;
}

/** A report the server refused for good: the run ended or changed hands (409), or is gone (404). */
function settled(err: unknown): boolean {
  return err instanceof WeirError && (err.code === "CONFLICT" || err.code === "NOT_FOUND");
}

/** One run this agent has taken: starting (no handle yet) or running on its infrastructure. */
interface Taken {
  run: FlowRun;
  /** The run's own API token from the claim (auth on), handed to its flow process. */
  apiKey: string | null;
  /** Its deployment as the claim answered it (saves the engine reading it again). */
  deployment: Deployment | undefined;
  handle: InfraHandle | null;
  /** Aborted to stop a launch still in progress (a cancellation that came early). */
  starting: AbortController;
  /** Settles after the end has been recorded, not merely when the infrastructure stops. */
  done: Promise<void>;
  /** Called once its infrastructure has it, or could not start it. */
  launched: () => void;
}

/**
 * Polls a work pool and starts each claimed flow run on the pool's infrastructure (a process, a
 * container). Claims are long polls, so a new run starts within milliseconds; heartbeats report
 * liveness and bring back cancellations; infrastructure that ends without a final state leaves
 * its run CRASHED with the reason.
 */
export class Agent {
  readonly id = Bun.randomUUIDv7();
  /**
   * Settles with the server's answer when it refuses this agent's token on two heartbeats in a row
   * (revoked or expired): the agent cannot work any more, and whoever runs it should stop it.
   */
  readonly refused: Promise<WeirError>;
  #refuse: (err: WeirError) => void = () => {};
  #refusals = 0;
  /** The stop cut a claim short (see stop()). */
  #claimCut = false;
  readonly #running = new Map<string, Taken>();
  #heartbeatEvery = 5_000;
  readonly #stop = new AbortController();
  /**
   * Heartbeats go on after the stop, while the running flows finish: a server that stopped
   * hearing the agent would crash runs that are still going (and miss their cancellations).
   */
  readonly #beats = new AbortController();
  #beating: Promise<void> | null = null;
  /** Runs this agent has already asked to stop. */
  readonly #cancelSent = new Set<string>();
  /**
   * Runs this agent had whose end it could not get the server to take (it was away longer than
   * the report retries, or refused with an error): each with the report to send again. They are
   * still listed as its own in every claim, so one left RUNNING is never handed back to it as a
   * lost answer and run twice, and each heartbeat tries their report again.
   */
  readonly #unrecorded = new Map<string, () => Promise<void>>();
  #recordingAgain = false;
  /** Runs its claims recorded RUNNING that have not reached their infrastructure yet. */
  #startedInFlight = 0;
  #slotFreed: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #infra: Infrastructure | null = null;
  #template: BaseJobTemplate | null = null;
  #warmed: Warmed | null = null;
  readonly #allowedDirs: string[];

  constructor(readonly opts: AgentOptions) {
    this.refused = new Promise((resolve) => {
      this.#refuse = resolve;
    });
    this.#allowedDirs = (opts.allowDirs ?? [process.cwd()]).map((d) => resolve(d));
  }

  get runningCount(): number {
    return this.#running.size;
  }

  async start(): Promise<void> {
    const { client, pool } = this.opts;
    // Read first: an agent token may use its pool but not create one.
    const wp = await client.getWorkPool(pool).catch(async (err: unknown) => {
      if (!(err instanceof WeirError && err.code === "NOT_FOUND")) throw err;
      // A pool is made only for infrastructure that can run here now (a docker pool with no
      // daemon would be left behind by an agent that cannot start).
      const type = this.opts.poolType ?? "process";
      await this.opts.registry.requireInfrastructure(type, `Agent for work pool "${pool}"`).check?.();
      return client.createWorkPool({ name: pool, type }, true);
    });
    if (this.opts.poolType && wp.type !== this.opts.poolType) {
      throw new WeirError(
        "INVALID",
        `work pool "${wp.name}" is a ${wp.type} pool, not ${this.opts.poolType} (start the agent without --type, or use another pool)`,
      );
    }
    const infra = this.opts.registry.requireInfrastructure(wp.type, `Agent for work pool "${wp.name}"`);
    if (this.opts.isolation === "none" && wp.type !== "process")
      throw new WeirError(
        "INVALID",
        `--isolation none runs flows inside the agent, which only a process pool can do; work pool "${wp.name}" is a ${wp.type} pool (drop --isolation none)`,
      );
    await infra.check?.();
    this.#infra = infra;
    this.#template = templateOf(wp, infra);
    // First heard before anything starts: a token the server refuses here stops the agent cleanly.
    await this.#heartbeat();
    // Flows run in this process (--isolation none) or get its environment: what a server reads
    // at its start (an agent inside `weir server`, or one started from the server's shell) goes.
    forgetServerSecrets();
    const prewarm = Math.min(this.opts.prewarm ?? 2, this.opts.limit);
    if (prewarm > 0 && infra.warm && this.opts.isolation !== "none")
      this.#warmed = infra.warm({
        count: prewarm,
        apiUrl: client.baseUrl,
        command: this.opts.command,
        log: this.opts.log,
      });
    const how =
      this.opts.isolation === "none"
        ? ", flows run inside the agent (--isolation none)"
        : this.#warmed
          ? `, ${prewarm} executor(s) prewarmed`
          : "";
    this.opts.log(
      `Agent ${this.opts.name} started: pool "${wp.name}" (${wp.type}), queues ${this.opts.queues.length ? this.opts.queues.join(", ") : "all"}, limit ${this.opts.limit}${how}, API ${shownAddress(client.baseUrl)}`,
    );
    // A queue the pool does not have (yet) is polled anyway; a typo would otherwise wait quietly.
    const names = wp.queues.map((q) => q.name);
    for (const q of this.opts.queues.filter((x) => !names.includes(x))) {
      const near = didYouMean(q, names);
      this.opts.log(
        `Work queue "${q}" does not exist in pool "${wp.name}"${near ? ` (did you mean "${near}"?)` : ""}: polling it anyway, its runs are taken once it exists (pool's queues: ${names.join(", ")})`,
      );
    }
    this.#loop = this.#claimLoop();
    this.#beating = this.#heartbeatLoop();
  }

  /** Stops taking work and resolves when every running flow has finished. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#slotFreed?.();
    await this.#loop;
    // A claim cut short by the stop may have been answered on the server (runs claimed for this
    // agent that it never got): they go back to the queue instead of crashing when it is silent.
    if (this.#claimCut)
      await this.opts.client
        .claim(
          this.opts.pool,
          {
            agent_id: this.id,
            queues: this.opts.queues,
            limit: 0,
            wait_ms: 0,
            running: [...this.#running.keys(), ...this.#unrecorded.keys()],
            start: this.#claimStarts(0),
            release: true,
          },
          AbortSignal.timeout(5_000),
        )
        .catch(() => {});
    this.#warmed?.close();
    while (this.#running.size > 0) await Promise.race([...this.#running.values()].map((r) => r.done));
    this.#beats.abort();
    await this.#beating;
    // The last word: the server shows this agent OFFLINE (stopped) at once, not ONLINE until its
    // heartbeats time out. Best effort: a server that is away learns it from the silence.
    if (this.#beating)
      await this.opts.client
        .heartbeat(
          {
            id: this.id,
            name: this.opts.name,
            work_pool_name: this.opts.pool,
            work_queues: this.opts.queues,
            stopping: true,
          },
          AbortSignal.timeout(5_000),
        )
        .catch(() => {});
    await runFoldersRemoved();
    await Bun.sleep(0);
  }

  /** Cancels every running flow run (stopped with the kill grace; they end CANCELLED). */
  cancelAll(): void {
    for (const t of this.#running.values()) {
      t.starting.abort();
      t.handle?.kill(this.opts.killGraceMs ?? 30_000);
    }
  }

  /** Kills every running flow run's infrastructure at once (their runs end CRASHED). */
  killAll(): void {
    this.#warmed?.close();
    for (const t of this.#running.values()) {
      t.starting.abort();
      t.handle?.kill(0);
    }
  }

  async #claimLoop(): Promise<void> {
    const { client, pool } = this.opts;
    let backoff = 0;
    let infraDown: string | null = null;
    while (!this.#stop.signal.aborted) {
      // With every slot busy the claim still goes out with limit 0: it is how cancellations
      // arrive. A slot freeing up ends that wait early, so new work is claimed at once.
      let free = Math.max(0, this.opts.limit - this.#running.size);
      let waitMs = this.opts.pollWaitMs ?? 20_000;
      // Infrastructure that cannot start runs now (its daemon is down) takes none: they stay
      // scheduled for when it is back, or for another agent, instead of crashing one by one.
      if (free > 0 && this.#infra?.check) {
        try {
          await this.#infra.check();
          if (infraDown) this.opts.log(`${this.#infra.type} infrastructure is back: taking runs again`);
          infraDown = null;
        } catch (err) {
          if (!infraDown)
            this.opts.log(
              `Not taking runs until ${this.#infra.type} infrastructure is back: ${describeError(err)}`,
            );
          infraDown = describeError(err);
          free = 0;
          waitMs = Math.min(waitMs, 2_000);
        }
      }
      const request = new AbortController();
      const onStop = () => request.abort();
      this.#stop.signal.addEventListener("abort", onStop, { once: true });
      if (free === 0 && !infraDown) this.#slotFreed = () => request.abort();
      try {
        const res = await client.claim(
          pool,
          {
            agent_id: this.id,
            queues: this.opts.queues,
            limit: free,
            wait_ms: waitMs,
            cancelling_seen: [...this.#cancelSent],
            running: [...this.#running.keys(), ...this.#unrecorded.keys()],
            // Runs that start the moment they are claimed (flows inside this process, or as
            // many as there are started executors waiting) are recorded RUNNING by the claim,
            // which saves each a request (see ClaimRequest.start).
            start: this.#claimStarts(free),
          },
          request.signal,
        );
        backoff = 0;
        this.#cancel(res.cancelling);
        if (res.work_pool) this.#template = templateOf(res.work_pool, this.#infra!);
        else if (res.flow_runs.length > 0) await this.#refreshTemplate();
        for (const run of res.flow_runs)
          if (!this.#running.has(run.id))
            this.#launch(
              run,
              res.tokens?.[run.id] ?? null,
              run.deployment_id ? res.deployments?.[run.deployment_id] : undefined,
            );
      } catch (err) {
        if (request.signal.aborted) {
          if (this.#stop.signal.aborted) this.#claimCut = true;
          continue;
        }
        backoff = Math.min(backoff ? backoff * 2 : 500, 10_000);
        this.opts.log(`Could not claim work (${describeError(err)}); retrying in ${backoff} ms`);
        // stopping does not wait for the back-off
        await pause(backoff, this.#stop.signal);
      } finally {
        this.#stop.signal.removeEventListener("abort", onStop);
        this.#slotFreed = null;
      }
    }
  }

  /**
   * What a claim asks to start: every run when flows run in this process; with started executors
   * waiting (`--prewarm`), as many runs as there are of them, once the server said it takes a
   * number (an older one would refuse the claim).
   */
  #claimStarts(free: number): boolean | number {
    if (this.opts.isolation === "none") return true;
    // Infrastructure with a check may put a claimed run back (its daemon went away), which a run
    // its claim started cannot do.
    if (!this.#warmed || this.#infra?.check || !this.opts.client.accepts("claim_start_count")) return false;
    // Executors that runs started by an earlier claim are about to take are not waiting for new ones.
    return Math.max(0, Math.min(free, this.#warmed.ready - this.#startedInFlight));
  }

  /**
   * The waiting executors a run may take: any, for a run its claim started; for another, only
   * one that no started run is about to take (else it starts a process of its own), so a started
   * run never waits RUNNING for a cold process while a run still PENDING has its executor.
   */
  #warmedFor(run: FlowRun): Warmed | null {
    if (!this.#warmed || run.state.type === "RUNNING") return this.#warmed;
    return this.#warmed.ready > this.#startedInFlight ? this.#warmed : null;
  }

  #launch(run: FlowRun, apiKey: string | null, deployment: Deployment | undefined): void {
    const taken: Taken = {
      run,
      apiKey,
      deployment,
      handle: null,
      starting: new AbortController(),
      done: Promise.resolve(),
      launched: () => {},
    };
    this.#running.set(run.id, taken);
    // Until its infrastructure has it (see #claimStarts).
    let inFlight = run.state.type === "RUNNING" && this.opts.isolation !== "none";
    if (inFlight) this.#startedInFlight++;
    taken.launched = () => {
      if (inFlight) this.#startedInFlight--;
      inFlight = false;
    };
    taken.done = this.#runOn(taken).finally(() => {
      taken.launched();
      this.#running.delete(run.id);
      this.#cancelSent.delete(run.id);
      this.#slotFreed?.();
    });
  }

  /** Starts one run on the infrastructure, waits for it to end and records how it ended. */
  async #runOn(taken: Taken): Promise<void> {
    const { run } = taken;
    const infra = this.#infra!;
    const secrets: string[] = [];
    const log = (m: string) => this.opts.log(scrub(m, secrets));
    let handle: InfraHandle;
    // Its infrastructure went away since the claim (a daemon stopped): the run goes back to wait.
    const unavailable = await infra.check?.().then(
      () => null,
      (err: unknown) => describeError(err),
    );
    if (unavailable) {
      log(`Flow run ${run.name} (${run.id}) goes back to the queue: ${unavailable}`);
      await this.opts.client
        .setFlowRunState(
          run.id,
          {
            type: "SCHEDULED",
            name: "Scheduled",
            message: `Its agent's ${infra.type} infrastructure could not be reached; rescheduled`,
          },
          { agentId: this.id },
        )
        .catch(() => {});
      return;
    }
    try {
      const config = await this.#configure(run, infra, secrets);
      const ownProcess = this.opts.isolation === "none" ? needsOwnProcess(config) : null;
      if (ownProcess) log(`Flow run ${run.name} (${run.id}) gets a process of its own: ${ownProcess}`);
      handle =
        this.opts.isolation === "none" && !ownProcess
          ? launchInline(run, config, {
              apiUrl: this.opts.client.baseUrl,
              agentId: this.id,
              registry: this.opts.registry,
              apiKey: taken.apiKey,
              allowedDirs: this.#allowedDirs,
              deployment: taken.deployment,
              flow: this.opts.flows?.(run),
              accepts: this.opts.client.accepted(),
            })
          : await infra.launch(run, config, {
              apiUrl: this.opts.client.baseUrl,
              command: this.opts.command,
              log,
              signal: taken.starting.signal,
              apiKey: taken.apiKey,
              allowedDirs: this.#allowedDirs,
              deployment: taken.deployment,
              warmed: this.#warmedFor(run),
              accepts: this.opts.client.accepted(),
            });
    } catch (err) {
      taken.launched();
      const why = scrub(describeError(err), secrets);
      const cancelled = taken.starting.signal.aborted;
      log(`Could not start flow run ${run.name} (${run.id}) on ${infra.type}: ${why}`);
      await this.#record(
        run,
        cancelled
          ? { type: "CANCELLED", message: "Cancelled before its infrastructure started" }
          : {
              type: "CRASHED",
              message: `Could not start the flow run on ${infra.type} infrastructure: ${why}`,
            },
      );
      return;
    }
    taken.launched();
    taken.handle = handle;
    // A cancellation that came while it was starting.
    if (taken.starting.signal.aborted) handle.kill(this.opts.killGraceMs ?? 30_000);
    log(`Started flow run ${run.name} (${run.id}) as ${handle.id}`);
    const exit = await handle.exited;
    await this.#afterExit(run, handle, exit, log);
  }

  /**
   * The run's job configuration: the pool's template with the run's job variables, blocks and
   * variables resolved now (so secrets are never stored with the deployment), checked against
   * the infrastructure's schema.
   */
  async #configure(run: FlowRun, infra: Infrastructure, secrets: string[]): Promise<Record<string, unknown>> {
    const raw = jobConfiguration(this.#template!, run.job_variables);
    const resolve = makeResolver(this.opts.client, secrets, this.opts.registry);
    const resolved = await resolve(raw);
    // Refused again here: a deployment written straight into the database skips the API's check.
    const runtime = runtimeEnvProblems(this.#template!, (resolved as { env?: unknown }).env);
    if (runtime.length > 0) throw new WeirError("INVALID", runtime.map((p) => p.message).join("; "));
    // A command line is readable by every user of the machine: secrets go in env, not in it.
    const command = (resolved as { command?: unknown }).command;
    if (typeof command === "string" && secrets.some((s) => s.length >= 3 && command.includes(s)))
      throw new WeirError(
        "INVALID",
        "job variable command would carry a secret in the flow process's arguments, which any user of the machine can read (ps); put the secret in job variable env and let the command read it",
      );
    // The flow's engine scrubs what it resolves itself; the names of env variables that carry a
    // secret the agent resolved are passed on, so their values are scrubbed from the run too.
    const env = (resolved as { env?: unknown }).env;
    if (env && typeof env === "object" && secrets.length > 0) {
      const names = Object.entries(env as Record<string, unknown>)
        .filter(([, val]) => typeof val === "string" && secrets.some((x) => x.length >= 3 && val.includes(x)))
        .map(([k]) => k);
      if (names.length > 0) (env as Record<string, unknown>).WEIR_SECRET_ENV = names.join(",");
    }
    const parsed = v.safeParse(infra.jobVariables, resolved);
    if (!parsed.success) {
      const problems = parsed.issues.map((i) => `${v.getDotPath(i) ?? "(job configuration)"}: ${i.message}`);
      throw new WeirError("INVALID", `invalid job configuration: ${problems.join("; ")}`);
    }
    return parsed.output;
  }

  async #afterExit(
    run: FlowRun,
    handle: InfraHandle,
    exit: InfraExit,
    log: (m: string) => void,
  ): Promise<void> {
    // Inside the agent the engine's final report was answered already: nothing to read back.
    if (exit.recorded) {
      log(`Flow run ${run.name} (${run.id}) finished`);
      return;
    }
    const how = exit.reason ?? `exited with code ${exit.code}`;
    // A reason may end with the infrastructure's last output lines: what the agent adds goes
    // before them, never glued onto the last line as if the flow had said it.
    const lines = how.indexOf("; its last lines:");
    const [why, lastLines] = lines < 0 ? [how, ""] : [how.slice(0, lines), how.slice(lines)];
    // Until the server has the run's end (or says it changed hands): a run left RUNNING would
    // hold its slots for as long as this agent lives.
    const record = async () => {
      // Exit 0 is normally `weir execute` after the server took the final state, but flow code
      // that calls process.exit(0) ends the process before any report: the run is read either way.
      const current = await this.opts.client.getFlowRun(run.id);
      if (isTerminal(current.state.type)) {
        log(`Flow run ${run.name} (${run.id}) finished: ${current.state.name}`);
        return;
      }
      const final =
        current.state.type === "CANCELLING"
          ? { type: "CANCELLED" as const, message: `Cancelled; its ${handle.id} ${how}` }
          : exit.code === 0 && !exit.reason
            ? {
                type: "CRASHED" as const,
                message: `The flow process exited without reporting a final state (its ${handle.id} exited with code 0, e.g. process.exit() in flow code)`,
              }
            : {
                type: "CRASHED" as const,
                message: `The flow run's ${handle.id} ${why} before the run reached a final state${lastLines}`,
              };
      await this.opts.client.setFlowRunState(run.id, final, { agentId: this.id });
      log(
        `Flow run ${run.name} (${run.id}) ${final.type === "CRASHED" ? "crashed" : "was cancelled"}: its ${handle.id} ${how}`,
      );
    };
    // Until the server has the run's end (or says it changed hands): a run left RUNNING would
    // hold its slots for as long as this agent lives.
    try {
      await untilAnswered(record, {
        deadline: Date.now() + this.opts.client.reportRetryMs,
        onRetry: (err, wait) =>
          log(
            `Could not record the end of flow run ${run.id}: ${describeError(err)}; trying again in ${wait} ms`,
          ),
      });
    } catch (err) {
      if (settled(err)) return;
      log(
        `Could not record the end of flow run ${run.id}: ${describeError(err)}; trying again with each heartbeat`,
      );
      this.#unrecorded.set(run.id, record);
    }
  }

  /** Records a final state the agent decided; a run that already ended keeps its own. */
  async #record(run: FlowRun, state: { type: "CRASHED" | "CANCELLED"; message: string }): Promise<void> {
    const report = () => this.opts.client.setFlowRunState(run.id, state, { agentId: this.id }).then(() => {});
    await report().catch((err: unknown) => {
      // Refused because it ended, changed hands or is gone: nothing left to say. Else said again later.
      if (!settled(err)) this.#unrecorded.set(run.id, report);
    });
  }

  /** Tries again the ends the server did not take (see #unrecorded), one pass at a time. */
  async #recordAgain(): Promise<void> {
    if (this.#recordingAgain || this.#unrecorded.size === 0) return;
    this.#recordingAgain = true;
    try {
      for (const [id, report] of [...this.#unrecorded]) {
        try {
          await report();
          this.#unrecorded.delete(id);
          this.opts.log(`Recorded the end of flow run ${id}`);
        } catch (err) {
          if (settled(err)) this.#unrecorded.delete(id);
        }
      }
    } finally {
      this.#recordingAgain = false;
    }
  }

  async #heartbeat(): Promise<void> {
    const res = await this.opts.client.heartbeat({
      id: this.id,
      name: this.opts.name,
      work_pool_name: this.opts.pool,
      work_queues: this.opts.queues,
      ...(this.#running.size > 0 ? { running: [...this.#running.keys()] } : {}),
    });
    this.#cancel(res.cancelling);
    this.#stopEnded(res.ended ?? []);
    // The server says how often it wants to hear from agents (its agent timeout / 5).
    if (this.opts.heartbeatMs === undefined && res.heartbeat_ms && res.heartbeat_ms > 0)
      this.#heartbeatEvery = Math.min(5_000, res.heartbeat_ms);
  }

  /** Re-reads the pool's template (weir work-pool update changes it) before starting new runs. */
  async #refreshTemplate(): Promise<void> {
    try {
      this.#template = templateOf(await this.opts.client.getWorkPool(this.opts.pool), this.#infra!);
    } catch (err) {
      this.opts.log(
        `Could not re-read work pool "${this.opts.pool}"; using its template as last read (${describeError(err)})`,
      );
    }
  }

  #cancel(ids: string[]): void {
    for (const id of ids) {
      const r = this.#running.get(id);
      if (r && !this.#cancelSent.has(id)) {
        this.#cancelSent.add(id);
        this.opts.log(`Cancelling flow run ${r.run.name} (${id})`);
        r.starting.abort();
        r.handle?.kill(this.opts.killGraceMs ?? 30_000);
      }
    }
  }

  /**
   * Runs the server no longer counts as this agent's (it could not hear it for a whole agent
   * timeout and crashed them; or one was retried and taken by another agent): their processes
   * stop, since the run may be running elsewhere already and its slot is free for others.
   */
  #stopEnded(ended: { id: string; state: string; message: string | null }[]): void {
    for (const e of ended) {
      const r = this.#running.get(e.id);
      if (!r || this.#cancelSent.has(e.id)) continue;
      this.#cancelSent.add(e.id);
      this.opts.log(
        `Flow run ${r.run.name} (${e.id}) is ${e.state} on the server${e.message ? ` (${e.message})` : ""}, or held by another agent, while this agent still ran it: stopping it`,
      );
      r.starting.abort();
      r.handle?.kill(this.opts.killGraceMs ?? 30_000);
    }
  }

  async #heartbeatLoop(): Promise<void> {
    while (!this.#beats.signal.aborted) {
      await pause(this.opts.heartbeatMs ?? this.#heartbeatEvery, this.#beats.signal);
      if (this.#beats.signal.aborted) break;
      const heard = await this.#heartbeat().then(
        () => {
          this.#refusals = 0;
          return true;
        },
        (err) => {
          this.opts.log(`Heartbeat failed: ${describeError(err)}`);
          if (err instanceof WeirError && err.code === "UNAUTHORIZED" && ++this.#refusals >= 2)
            this.#refuse(err);
          return false;
        },
      );
      // In the background: a report retries for minutes if the server goes away again, and the
      // heartbeats must go on meanwhile.
      if (heard) void this.#recordAgain();
    }
  }
}
