import { readFileSync } from "node:fs";
import type {
  Agent,
  BlockDocument,
  ConcurrencyLimit,
  Deployment,
  DeploymentSchedule,
  Flow,
  FlowRun,
  LogEntry,
  State,
  StateProposal,
  TaskRun,
  TaskRunSnapshot,
  TokenInfo,
  Variable,
  WorkPool,
  WorkQueue,
} from "../model/index.ts";
import { DEFAULT_STATE_NAMES, type ErrorCode, isTerminal, WeirError } from "../model/index.ts";
import { untilAnswered } from "./retry.ts";

export const DEFAULT_API_URL = "http://127.0.0.1:4200/api";

type Query = Record<string, string | number | undefined>;

/** What a work queue is created or changed with (null clears the limit). */
export interface WorkQueueOptions {
  description?: string | null;
  priority?: number;
  concurrency_limit?: number | null;
  is_paused?: boolean;
}

let caCache: { file: string; ca: string } | null = null;

/**
 * HTTPS to a server whose certificate a private CA signed: WEIR_CA_FILE names the CA's PEM file
 * (certificates are always verified; there is no switch to turn that off).
 */
function tlsOptions(): { tls?: { ca: string } } {
  const file = process.env.WEIR_CA_FILE;
  if (!file) return {};
  if (caCache?.file !== file) {
    let ca: string;
    try {
      ca = readFileSync(file, "utf8");
    } catch (err) {
      throw new WeirError(
        "USAGE",
        `WEIR_CA_FILE ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}): point it at the PEM file of the CA that signed the server's certificate`,
      );
    }
    if (!ca.includes("-----BEGIN CERTIFICATE-----"))
      throw new WeirError(
        "USAGE",
        `WEIR_CA_FILE ${file} holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" line): point it at the PEM file of the CA that signed the server's certificate`,
      );
    caCache = { file, ca };
  }
  return { tls: { ca: caCache.ca } };
}

/**
 * One address of WEIR_API_URL as requests use it: an http(s) URL without a trailing slash. A
 * server's bare address (no path) means its API, which it serves under /api.
 */
function apiAddress(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    url = new URL("invalid:");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new WeirError(
      "USAGE",
      // Not echoed when it may hold a password (user:password@host).
      `WEIR_API_URL ${text.includes("@") ? "" : `"${text}" `}is not an http(s) address: give the server's API, e.g. ${DEFAULT_API_URL} (several, for servers sharing one database, separated by commas)`,
    );
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path === "" ? "/api" : path;
  url.search = "";
  url.hash = "";
  return url.href.replace(/\/+$/, "");
}

/** An API address as messages show it: without a user name and password in it. */
export function shownAddress(address: string): string {
  return address.replace(/^(https?:\/\/)[^/@]*@/i, "$1");
}

/**
 * A name or id as one segment of an API path. "." and ".." would be read as folders of the URL
 * (and reach another endpoint: `schedule pause D ..` paused the whole deployment), and an empty
 * one names nothing: refused before any request.
 */
function segment(value: string): string {
  if (value === "" || value === "." || value === "..")
    throw new WeirError(
      "USAGE",
      value === ""
        ? "A name or id must not be empty"
        : `"${value}" cannot name anything (in a URL it means a folder)`,
    );
  return encodeURIComponent(value);
}

/** The typed HTTP client used by the CLI, agent, engine and SDK. */

export class WeirClient {
  /** The API address, or several separated by commas (servers sharing one database). */
  readonly baseUrl: string;
  readonly #urls: string[];
  #current = 0;
  /** What the server said it accepts beyond the basics (x-weir-accepts), as last answered. */
  #accepts = new Set<string>();
  /**
   * How long a state report or a log batch keeps being retried while no server answers (a server
   * restarting, a network cut): a run's end is never lost because the server was away.
   */
  readonly reportRetryMs: number;
  /** The agent whose claim this process runs under: sent with state reports (WEIR_AGENT_ID). */
  readonly agentId: string | undefined;
  /** The token sent with every request (WEIR_API_KEY): never logged or put in an error. */
  readonly #apiKey: string | undefined;

  constructor(
    baseUrl: string = process.env.WEIR_API_URL || DEFAULT_API_URL,
    options: {
      reportRetryMs?: number;
      agentId?: string;
      apiKey?: string;
      /** What another client of the same server learnt it accepts (see accepts()). */
      accepts?: Iterable<string>;
    } = {},
  ) {
    this.reportRetryMs = options.reportRetryMs ?? 600_000;
    this.#accepts = new Set(options.accepts);
    this.agentId = options.agentId;
    this.#apiKey = options.apiKey ?? (process.env.WEIR_API_KEY || undefined);
    this.#urls = baseUrl
      .split(",")
      .map((u) => u.trim())
      .filter(Boolean)
      .map(apiAddress);
    if (this.#urls.length === 0) this.#urls.push(DEFAULT_API_URL);
    this.baseUrl = this.#urls.join(",");
  }

  /**
   * One API call. With several servers, one that cannot be reached is skipped for the next (a
   * request that may have reached it is tried again elsewhere only when repeating it is harmless:
   * GET, PUT, DELETE). A 503 from a server whose database is briefly away is retried, after the
   * Retry-After it gives, for up to 30 s.
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    opts: {
      query?: Query;
      signal?: AbortSignal;
      timeoutMs?: number;
      /** Safe to send again to another server after a failure mid-request (POSTs that upsert). */
      repeatable?: boolean;
      /**
       * The route's answers always say what the server accepts (heartbeats and claims): one that
       * does not (an older server after a rollback, or an error) means nothing beyond the basics.
       */
      saysAccepts?: boolean;
      /** Filled in with the answer's HTTP status (201 created, 200 found, for one). */
      answer?: { status: number };
    } = {},
  ): Promise<T> {
    const repeatable = opts.repeatable ?? method !== "POST";
    const unavailableUntil = Date.now() + 30_000;
    let failures = 0;
    // This request's own place in the list: requests sent side by side each move on from the
    // server that failed them, not from wherever another request has moved the shared index.
    let at = this.#current;
    const failed: string[] = [];
    for (;;) {
      const base = this.#urls[at]!;
      const url = new URL(base + path);
      for (const [k, v] of Object.entries(opts.query ?? {}))
        if (v !== undefined) url.searchParams.set(k, String(v));
      const signals = [AbortSignal.timeout(opts.timeoutMs ?? 30_000)];
      if (opts.signal) signals.push(opts.signal);
      // Before the request: a CA file that cannot be used is said as such, not as a server away.
      const tls = base.startsWith("https:") ? tlsOptions() : {};
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          // Writes always say JSON: the server refuses other content types (a browser form or a
          // cross-site fetch cannot send this one without a preflight the server never allows).
          headers: {
            ...(method === "GET" ? {} : { "content-type": "application/json" }),
            ...(this.#apiKey ? { authorization: `Bearer ${this.#apiKey}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.any(signals),
          ...tls,
        } as RequestInit);
      } catch (cause) {
        if (opts.signal?.aborted) throw cause;
        const c = cause as Error & { code?: string };
        if (/CERT|SIGNATURE|HOSTNAME_MISMATCH|ERR_TLS|ALTNAME/.test(c.code ?? ""))
          throw new WeirError(
            "UNREACHABLE",
            `The Weir API at ${shownAddress(base)} has a TLS certificate this client does not trust (${c.code}): set WEIR_CA_FILE to the PEM file of the CA that signed it, and check that the URL's host name is in the certificate`,
            { cause },
          );
        const refused = c.code === "ConnectionRefused" || c.code === "ECONNREFUSED" || c.code === "ENOENT";
        const why =
          c.name === "TimeoutError"
            ? "no answer in time"
            : refused
              ? "connection refused"
              : (c.code ?? c.message ?? "connection failed");
        // Another server may answer: move on to it (for this call only when it cannot have run twice).
        failed.push(`${shownAddress(base)} (${why})`);
        if (this.#urls.length > 1) {
          const next = (at + 1) % this.#urls.length;
          if (this.#current === at) this.#current = next;
          at = next;
          if ((refused || repeatable) && ++failures < this.#urls.length) continue;
        }
        throw new WeirError(
          "UNREACHABLE",
          failed.length > 1
            ? `Cannot reach any Weir API server: ${failed.join(", ")}; check that they run and what WEIR_API_URL lists`
            : this.#urls.length > 1
              ? `Lost the Weir API at ${shownAddress(base)} (${why}) during a request that is not safe to send twice; it may or may not have been done: check, then retry`
              : `Cannot reach the Weir API at ${shownAddress(base)} (${why}): ${
                  base.startsWith("http://") && /ECONNRESET|ConnectionClosed/i.test(why)
                    ? "the server closed the connection at once, as a server with TLS does to plain http: if it was started with --tls-cert, use https:// in WEIR_API_URL"
                    : new URL(base).hostname === "host.docker.internal"
                      ? "this container reaches the agent's machine through the Docker bridge, and a server listening only on 127.0.0.1 cannot be reached that way: start the server on an address the bridge reaches (weir server --host 0.0.0.0 --auth) and give the agent that address in WEIR_API_URL, or leave networks and network_mode unset so the container shares the host's network"
                      : 'start a server with "weir server", or point WEIR_API_URL at a running one'
                }`,
          { cause },
        );
      }
      const accepts = res.headers.get("x-weir-accepts");
      if (accepts !== null) this.#accepts = new Set(accepts.split(",").map((x) => x.trim()));
      else if (opts.saysAccepts) this.#accepts = new Set();
      const text = await res.text();
      let data: unknown;
      try {
        data = text ? JSON.parse(text) : undefined;
      } catch {
        data = undefined;
      }
      if (res.status === 503 && Date.now() < unavailableUntil && !opts.signal?.aborted) {
        const after = Number(res.headers.get("retry-after")) || 1;
        await Bun.sleep(Math.min(after * 1000, Math.max(0, unavailableUntil - Date.now())));
        continue;
      }
      if (!res.ok) {
        const err = (
          data as
            | { error?: { code?: string; message?: string; fields?: Record<string, unknown> } }
            | undefined
        )?.error;
        const code = (err?.code && err.code !== "INTERNAL" ? err.code : "FAILED") as ErrorCode;
        throw new WeirError(
          code,
          err?.message ?? `${method} ${url.pathname} failed with HTTP ${res.status}`,
          {
            fields: err?.fields,
          },
        );
      }
      if (opts.answer) opts.answer.status = res.status;
      return data as T;
    }
  }

  /** Every item of a paged list (the API returns at most a page per request). */
  async all<T>(path: string, query: Query = {}): Promise<T[]> {
    const out: T[] = [];
    const limit = 1000;
    for (let offset = 0; ; offset += limit) {
      const page = await this.request<T[]>("GET", path, undefined, { query: { ...query, limit, offset } });
      out.push(...page);
      if (page.length < limit) return out;
    }
  }

  health(): Promise<{ status: string; version: string }> {
    return this.request("GET", "/health", undefined, { timeoutMs: 5_000 });
  }

  // deployments
  upsertDeployment(body: Record<string, unknown>): Promise<{ deployment: Deployment; created: boolean }> {
    return this.request("PUT", "/deployments", body);
  }
  /** Pauses (or resumes) a deployment: while paused its schedules make no runs. */
  setDeploymentPaused(id: string, paused: boolean): Promise<Deployment> {
    return this.request("POST", `/deployments/${id}/${paused ? "pause" : "resume"}`);
  }
  listDeployments(flow?: string): Promise<Deployment[]> {
    return this.all("/deployments", { flow });
  }
  /** By id or FLOW/NAME. */
  getDeployment(ref: string): Promise<Deployment> {
    const slash = ref.indexOf("/");
    if (slash > 0) {
      const [flow, name] = [ref.slice(0, slash), ref.slice(slash + 1)];
      return this.request("GET", `/deployments/name/${segment(flow)}/${segment(name)}`);
    }
    return this.request("GET", `/deployments/${segment(ref)}`);
  }
  deleteDeployment(id: string): Promise<Deployment> {
    return this.request("DELETE", `/deployments/${id}`);
  }
  async runDeployment(
    id: string,
    body: {
      parameters?: Record<string, unknown>;
      tags?: string[];
      job_variables?: Record<string, unknown>;
      scheduled_time?: string;
      work_queue_name?: string;
      idempotency_key?: string;
      name?: string;
      parent_flow_run_id?: string;
      parent_task_run_id?: string;
    } = {},
  ): Promise<FlowRun> {
    return (await this.runDeploymentAnswer(id, body)).run;
  }
  /** As runDeployment, and whether the run is new (false: its idempotency key found an earlier one). */
  async runDeploymentAnswer(
    id: string,
    body: Parameters<WeirClient["runDeployment"]>[1] = {},
  ): Promise<{ run: FlowRun; created: boolean }> {
    const answer = { status: 0 };
    // With a key, sending it again is harmless: the server answers the run it made.
    const run = await this.request<FlowRun>("POST", `/deployments/${id}/runs`, body, {
      repeatable: !!body.idempotency_key,
      answer,
    });
    return { run, created: answer.status !== 200 };
  }

  // schedules
  replaceSchedules(deploymentId: string, schedules: ScheduleWire[]): Promise<Deployment> {
    return this.request("PUT", `/deployments/${deploymentId}/schedules`, { schedules });
  }
  createSchedule(deploymentId: string, body: ScheduleWire): Promise<DeploymentSchedule> {
    return this.request("POST", `/deployments/${deploymentId}/schedules`, body);
  }
  setScheduleActive(deploymentId: string, schedule: string, active: boolean): Promise<DeploymentSchedule> {
    return this.request(
      "POST",
      `/deployments/${deploymentId}/schedules/${segment(schedule)}/${active ? "resume" : "pause"}`,
    );
  }
  setDeploymentScheduleActive(deploymentId: string, active: boolean): Promise<Deployment> {
    return this.request("POST", `/deployments/${deploymentId}/${active ? "resume" : "pause"}-schedule`);
  }
  deleteSchedules(deploymentId: string, schedule?: string): Promise<Deployment> {
    return this.request(
      "DELETE",
      `/deployments/${deploymentId}/schedules${schedule ? `/${segment(schedule)}` : ""}`,
    );
  }

  // flow runs
  createFlowRun(body: {
    flow_name: string;
    parameters?: Record<string, unknown>;
    tags?: string[];
    state?: StateWire;
    parent_flow_run_id?: string;
    parent_task_run_id?: string;
  }): Promise<FlowRun> {
    return this.request("POST", "/flow-runs", body);
  }
  /**
   * Waits for a run to reach a final state, by long poll (each request waits on the server up to
   * 30 s); answers the run as it is when it finished or `timeoutMs` passed.
   */
  async waitForFlowRun(id: string, timeoutMs: number, signal?: AbortSignal): Promise<FlowRun> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = Math.max(0, deadline - Date.now());
      const wait = Math.min(left, 30_000);
      const run = await this.request<FlowRun>("GET", `/flow-runs/${segment(id)}/wait`, undefined, {
        query: { timeout_ms: wait },
        timeoutMs: wait + 30_000,
        signal,
      });
      if (isTerminal(run.state.type) || Date.now() >= deadline) return run;
    }
  }
  /** The caller's token (name, scope); null from a server older than this route. */
  async whoami(): Promise<{ name: string; scope: string; work_pool_name: string | null } | null> {
    try {
      return await this.request("GET", "/whoami");
    } catch (err) {
      if (err instanceof WeirError && err.code === "NOT_FOUND") return null;
      throw err;
    }
  }
  /** The JSON a flow run's flow returned (NOT_FOUND with the reason when it has none). */
  flowRunResult(id: string): Promise<unknown> {
    return this.request("GET", `/flow-runs/${segment(id)}/result`);
  }
  /** Newest first; a `limit` above one page is fetched page by page. */
  async listFlowRuns(
    q: {
      deployment?: string;
      flow?: string;
      /** A run's name (several runs may share one). */
      name?: string;
      state?: string;
      pool?: string;
      parent?: string;
      limit?: number;
    } = {},
  ): Promise<FlowRun[]> {
    const want = q.limit ?? 50;
    const out: FlowRun[] = [];
    while (out.length < want) {
      const limit = Math.min(1000, want - out.length);
      const page = await this.request<FlowRun[]>("GET", "/flow-runs", undefined, {
        query: { ...q, limit, offset: out.length },
      });
      out.push(...page);
      if (page.length < limit) break;
    }
    return out;
  }
  getFlowRun(id: string): Promise<FlowRun> {
    return this.request("GET", `/flow-runs/${segment(id)}`);
  }
  flowRunStates(id: string): Promise<State[]> {
    return this.all(`/flow-runs/${segment(id)}/states`);
  }
  /**
   * Proposes a state. When the server that took the proposal went away before answering, the
   * run is read from another: if the proposal was recorded it is not made twice, else it is made
   * there.
   */
  /**
   * Whether the server said it takes `feature` (on a set_state answer, for example "task_runs": a
   * state may carry the run's task runs). A server from before a feature never says so, and a
   * client must not send it what such a server would drop without a word.
   */
  accepts(feature: string): boolean {
    return this.#accepts.has(feature);
  }
  /** Everything the server said it accepts, to hand to another client of the same server. */
  accepted(): string[] {
    return [...this.#accepts];
  }
  #stateBody(
    state: StateProposal,
    agentId = this.agentId,
    result?: string,
    taskRuns?: TaskRunSnapshot[],
  ): unknown {
    const body = toWire(state) as Record<string, unknown>;
    if (result !== undefined) body.result = result;
    if (taskRuns?.length) body.task_runs = taskRuns;
    return agentId ? { ...body, agent_id: agentId } : body;
  }
  /**
   * `as`: the agent whose claim the report is made under (default: this client's agentId), and a
   * COMPLETED run's result as JSON text, and task runs of this run to write first (the engine's
   * last snapshots ride with its final state: one request instead of two).
   */
  async setFlowRunState(
    id: string,
    state: StateProposal,
    as?: { agentId?: string; result?: string; taskRuns?: TaskRunSnapshot[] },
  ): Promise<FlowRun> {
    const agentId = as?.agentId ?? this.agentId;
    const { result, taskRuns } = as ?? {};
    try {
      return await this.request(
        "POST",
        `/flow-runs/${id}/set_state`,
        this.#stateBody(state, agentId, result, taskRuns),
      );
    } catch (first) {
      if (!(first instanceof WeirError && first.code === "UNREACHABLE")) throw first;
      // No answer: retried with backoff until a server answers. Each try first reads the run, as
      // the one before may have been recorded before its answer was lost: it is not made twice.
      const name = state.name ?? DEFAULT_STATE_NAMES[state.type];
      return untilAnswered(
        async () => {
          const now = await this.getFlowRun(id);
          if (now.state.type === state.type && now.state.name === name) return now;
          return this.request<FlowRun>(
            "POST",
            `/flow-runs/${id}/set_state`,
            this.#stateBody(state, agentId, result, taskRuns),
          );
        },
        {
          deadline: Date.now() + this.reportRetryMs,
          // With another server to ask, at once.
          firstWaitMs: this.#urls.length > 1 ? 0 : 500,
          waitFirst: true,
        },
      );
    }
  }
  retryFlowRun(id: string): Promise<FlowRun> {
    return this.request("POST", `/flow-runs/${segment(id)}/retry`);
  }
  cancelFlowRun(id: string): Promise<FlowRun> {
    return this.request("POST", `/flow-runs/${segment(id)}/cancel`);
  }
  flowRunLogs(id: string, after = 0, limit = 1000): Promise<LogEntry[]> {
    return this.request("GET", `/flow-runs/${segment(id)}/logs`, undefined, {
      query: { after, limit },
    });
  }
  taskRuns(flowRunId: string): Promise<TaskRun[]> {
    return this.all(`/flow-runs/${segment(flowRunId)}/task-runs`);
  }
  writeTaskRuns(snapshots: TaskRunSnapshot[]): Promise<{ written: number }> {
    // Snapshots are upserts by task run id: sending one twice changes nothing.
    return this.request("POST", "/task-runs/snapshots", snapshots, {
      repeatable: true,
      query: this.agentId ? { agent_id: this.agentId } : undefined,
    });
  }
  execution(flowRunId: string): Promise<{ flow_run: FlowRun; deployment: Deployment | null }> {
    return this.request("GET", `/flow-runs/${segment(flowRunId)}/execution`);
  }
  sendLogs(entries: Omit<LogEntry, "id">[]): Promise<{ inserted: number }> {
    // A batch sent again on another server (the first went away mid-request) may be stored twice:
    // a repeated line is better than a run that crashes for want of its logs.
    return this.request("POST", "/logs", entries, {
      repeatable: true,
      query: this.agentId ? { agent_id: this.agentId } : undefined,
    });
  }
  createTaskRun(body: {
    id?: string;
    flow_run_id: string;
    name: string;
    task_key: string;
    state: StateProposal;
  }): Promise<TaskRun> {
    return this.request("POST", "/task-runs", { ...body, state: toWire(body.state) });
  }
  setTaskRunState(id: string, state: StateProposal): Promise<TaskRun> {
    return this.request("POST", `/task-runs/${id}/set_state`, toWire(state));
  }
  listFlows(): Promise<Flow[]> {
    return this.all("/flows");
  }

  // work pools and agents
  createWorkPool(
    body: {
      name: string;
      type?: string;
      description?: string;
      concurrency_limit?: number;
      base_job_template?: Record<string, unknown>;
    },
    ifMissing = false,
  ): Promise<WorkPool> {
    return this.request("POST", "/work-pools", body, {
      query: { if_missing: ifMissing ? "true" : undefined },
    });
  }
  listWorkPools(): Promise<WorkPool[]> {
    return this.all("/work-pools");
  }
  updateWorkPool(
    name: string,
    body: {
      description?: string | null;
      concurrency_limit?: number | null;
      base_job_template?: Record<string, unknown>;
    },
  ): Promise<WorkPool> {
    return this.request("PATCH", `/work-pools/${segment(name)}`, body);
  }
  getWorkPool(name: string): Promise<WorkPool> {
    return this.request("GET", `/work-pools/${segment(name)}`);
  }
  deleteWorkPool(name: string): Promise<WorkPool> {
    return this.request("DELETE", `/work-pools/${segment(name)}`);
  }
  setWorkPoolPaused(name: string, paused: boolean): Promise<WorkPool> {
    return this.request("POST", `/work-pools/${segment(name)}/${paused ? "pause" : "resume"}`);
  }
  createWorkQueue(pool: string, name: string, options: WorkQueueOptions = {}): Promise<WorkQueue> {
    return this.request("POST", `/work-pools/${segment(pool)}/queues`, { name, ...options });
  }
  updateWorkQueue(pool: string, name: string, options: WorkQueueOptions): Promise<WorkQueue> {
    return this.request("PATCH", `/work-pools/${segment(pool)}/queues/${segment(name)}`, options);
  }
  deleteWorkQueue(pool: string, name: string): Promise<WorkQueue> {
    return this.request("DELETE", `/work-pools/${segment(pool)}/queues/${segment(name)}`);
  }
  listConcurrencyLimits(): Promise<ConcurrencyLimit[]> {
    return this.request("GET", "/concurrency-limits");
  }
  getConcurrencyLimit(tag: string): Promise<ConcurrencyLimit> {
    return this.request("GET", `/concurrency-limits/${segment(tag)}`);
  }
  setConcurrencyLimit(tag: string, limit: number): Promise<ConcurrencyLimit> {
    return this.request("PUT", `/concurrency-limits/${segment(tag)}`, { limit });
  }
  deleteConcurrencyLimit(tag: string): Promise<ConcurrencyLimit> {
    return this.request("DELETE", `/concurrency-limits/${segment(tag)}`);
  }
  createToken(body: {
    name: string;
    scope: string;
    work_pool_name?: string | null;
    expires_in_seconds?: number | null;
  }): Promise<TokenInfo & { token: string }> {
    return this.request("POST", "/tokens", body);
  }
  listTokens(): Promise<TokenInfo[]> {
    return this.request("GET", "/tokens");
  }
  revokeToken(name: string): Promise<TokenInfo> {
    return this.request("POST", `/tokens/${segment(name)}/revoke`, {});
  }
  claim(
    pool: string,
    body: {
      agent_id: string;
      queues: string[];
      limit: number;
      wait_ms: number;
      cancelling_seen?: string[];
      running?: string[];
      start?: boolean | number;
      /** The agent is stopping: claimed runs it does not list go back to the queue; none are claimed. */
      release?: boolean;
    },
    signal?: AbortSignal,
  ): Promise<{
    flow_runs: FlowRun[];
    cancelling: string[];
    tokens?: Record<string, string>;
    work_pool?: WorkPool;
    deployments?: Record<string, Deployment>;
  }> {
    return this.request("POST", `/work-pools/${segment(pool)}/claim`, body, {
      signal,
      timeoutMs: body.wait_ms + 15_000,
      saysAccepts: true,
    });
  }
  listAgents(pool?: string): Promise<Agent[]> {
    return this.all("/agents", { pool });
  }
  heartbeat(
    body: {
      id: string;
      name: string;
      work_pool_name: string;
      work_queues: string[];
      /** The agent's last word: it has stopped (shown OFFLINE at once). Older servers ignore it. */
      stopping?: boolean;
      /** The runs it is running; `ended` in the answer names those no longer its own. */
      running?: string[];
    },
    signal?: AbortSignal,
  ): Promise<{
    agent: Agent;
    cancelling: string[];
    heartbeat_ms?: number;
    ended?: { id: string; state: string; message: string | null }[];
  }> {
    return this.request("POST", "/agents/heartbeat", body, { repeatable: true, saysAccepts: true, signal });
  }

  // variables
  listVariables(): Promise<Variable[]> {
    return this.all("/variables");
  }
  /** undefined when the variable does not exist. */
  async findVariable(name: string): Promise<Variable | undefined> {
    try {
      return await this.request<Variable>("GET", `/variables/${segment(name)}`);
    } catch (err) {
      if (err instanceof WeirError && err.code === "NOT_FOUND") return undefined;
      throw err;
    }
  }
  setVariable(name: string, value: unknown): Promise<Variable> {
    return this.request("PUT", `/variables/${segment(name)}`, { value });
  }
  deleteVariable(name: string): Promise<unknown> {
    return this.request("DELETE", `/variables/${segment(name)}`);
  }

  // blocks
  blockTypes(): Promise<
    { slug: string; name: string; description: string; schema: Record<string, unknown> }[]
  > {
    return this.request("GET", "/block-types");
  }
  createBlock(
    type: string,
    name: string,
    data: Record<string, unknown>,
    overwrite = false,
  ): Promise<BlockDocument> {
    return this.request(
      "POST",
      "/blocks",
      { type, name, data },
      { query: { overwrite: overwrite ? "true" : undefined } },
    );
  }
  listBlocks(includeSecrets = false): Promise<BlockDocument[]> {
    return this.all("/blocks", { include_secrets: includeSecrets ? "true" : undefined });
  }
  /** undefined when the block does not exist. */
  async findBlock(type: string, name: string, includeSecrets = false): Promise<BlockDocument | undefined> {
    try {
      return await this.request<BlockDocument>(
        "GET",
        `/blocks/${segment(type)}/${segment(name)}`,
        undefined,
        {
          query: { include_secrets: includeSecrets ? "true" : undefined },
        },
      );
    } catch (err) {
      if (err instanceof WeirError && err.code === "NOT_FOUND") return undefined;
      throw err;
    }
  }
  deleteBlock(type: string, name: string): Promise<unknown> {
    return this.request("DELETE", `/blocks/${segment(type)}/${segment(name)}`);
  }
}

export type ScheduleWire = {
  schedule: Record<string, unknown>;
  active?: boolean;
  parameters?: Record<string, unknown>;
  slug?: string | null;
};

type StateWire = {
  type: string;
  name?: string;
  message?: string;
  data?: Record<string, unknown>;
  scheduled_time?: string;
};

function toWire(s: StateProposal): StateWire {
  const { scheduledTime, ...rest } = s;
  return scheduledTime ? { ...rest, scheduled_time: scheduledTime } : rest;
}
