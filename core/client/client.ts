import type {
  Agent,
  BlockDocument,
  Deployment,
  DeploymentSchedule,
  Flow,
  FlowRun,
  LogEntry,
  State,
  StateProposal,
  TaskRun,
  TaskRunSnapshot,
  Variable,
  WorkPool,
  WorkQueue,
} from "../model/index.ts";
import { type ErrorCode, WeirError } from "../model/index.ts";

export const DEFAULT_API_URL = "http://127.0.0.1:4200/api";

type Query = Record<string, string | number | undefined>;

/** The typed HTTP client used by the CLI, agent, engine and SDK. */
export class WeirClient {
  readonly baseUrl: string;

  constructor(baseUrl: string = process.env.WEIR_API_URL || DEFAULT_API_URL) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    opts: { query?: Query; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? 30_000)];
    if (opts.signal) signals.push(opts.signal);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? undefined : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any(signals),
      });
    } catch (cause) {
      if (opts.signal?.aborted) throw cause;
      const c = cause as Error & { code?: string };
      const why =
        c.name === "TimeoutError"
          ? "no answer in time"
          : c.code === "ConnectionRefused" || c.code === "ECONNREFUSED"
            ? "connection refused"
            : (c.code ?? c.message ?? "connection failed");
      throw new WeirError(
        "UNREACHABLE",
        `Cannot reach the Weir API at ${this.baseUrl} (${why}): start a server with "weir server", or point WEIR_API_URL at a running one`,
        { cause },
      );
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      const err = (
        data as { error?: { code?: string; message?: string; fields?: Record<string, unknown> } } | undefined
      )?.error;
      const code = (err?.code && err.code !== "INTERNAL" ? err.code : "FAILED") as ErrorCode;
      throw new WeirError(code, err?.message ?? `${method} ${url.pathname} failed with HTTP ${res.status}`, {
        fields: err?.fields,
      });
    }
    return data as T;
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
  listDeployments(flow?: string): Promise<Deployment[]> {
    return this.all("/deployments", { flow });
  }
  /** By id or FLOW/NAME. */
  getDeployment(ref: string): Promise<Deployment> {
    const slash = ref.indexOf("/");
    if (slash > 0) {
      const [flow, name] = [ref.slice(0, slash), ref.slice(slash + 1)];
      return this.request("GET", `/deployments/name/${encodeURIComponent(flow)}/${encodeURIComponent(name)}`);
    }
    return this.request("GET", `/deployments/${encodeURIComponent(ref)}`);
  }
  deleteDeployment(id: string): Promise<Deployment> {
    return this.request("DELETE", `/deployments/${id}`);
  }
  runDeployment(
    id: string,
    body: {
      parameters?: Record<string, unknown>;
      tags?: string[];
      job_variables?: Record<string, unknown>;
      scheduled_time?: string;
    } = {},
  ): Promise<FlowRun> {
    return this.request("POST", `/deployments/${id}/runs`, body);
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
      `/deployments/${deploymentId}/schedules/${encodeURIComponent(schedule)}/${active ? "resume" : "pause"}`,
    );
  }
  setDeploymentScheduleActive(deploymentId: string, active: boolean): Promise<Deployment> {
    return this.request("POST", `/deployments/${deploymentId}/${active ? "resume" : "pause"}-schedule`);
  }
  deleteSchedules(deploymentId: string, schedule?: string): Promise<Deployment> {
    return this.request(
      "DELETE",
      `/deployments/${deploymentId}/schedules${schedule ? `/${encodeURIComponent(schedule)}` : ""}`,
    );
  }

  // flow runs
  createFlowRun(body: {
    flow_name: string;
    parameters?: Record<string, unknown>;
    tags?: string[];
    state?: StateWire;
  }): Promise<FlowRun> {
    return this.request("POST", "/flow-runs", body);
  }
  /** Newest first; a `limit` above one page is fetched page by page. */
  async listFlowRuns(
    q: { deployment?: string; flow?: string; state?: string; pool?: string; limit?: number } = {},
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
    return this.request("GET", `/flow-runs/${encodeURIComponent(id)}`);
  }
  flowRunStates(id: string): Promise<State[]> {
    return this.all(`/flow-runs/${encodeURIComponent(id)}/states`);
  }
  setFlowRunState(id: string, state: StateProposal): Promise<FlowRun> {
    return this.request("POST", `/flow-runs/${id}/set_state`, toWire(state));
  }
  cancelFlowRun(id: string): Promise<FlowRun> {
    return this.request("POST", `/flow-runs/${encodeURIComponent(id)}/cancel`);
  }
  flowRunLogs(id: string, after = 0, limit = 1000): Promise<LogEntry[]> {
    return this.request("GET", `/flow-runs/${encodeURIComponent(id)}/logs`, undefined, {
      query: { after, limit },
    });
  }
  taskRuns(flowRunId: string): Promise<TaskRun[]> {
    return this.all(`/flow-runs/${encodeURIComponent(flowRunId)}/task-runs`);
  }
  writeTaskRuns(snapshots: TaskRunSnapshot[]): Promise<{ written: number }> {
    return this.request("POST", "/task-runs/snapshots", snapshots);
  }
  execution(flowRunId: string): Promise<{ flow_run: FlowRun; deployment: Deployment | null }> {
    return this.request("GET", `/flow-runs/${encodeURIComponent(flowRunId)}/execution`);
  }
  sendLogs(entries: Omit<LogEntry, "id">[]): Promise<{ inserted: number }> {
    return this.request("POST", "/logs", entries);
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
    return this.request("PATCH", `/work-pools/${encodeURIComponent(name)}`, body);
  }
  getWorkPool(name: string): Promise<WorkPool> {
    return this.request("GET", `/work-pools/${encodeURIComponent(name)}`);
  }
  deleteWorkPool(name: string): Promise<WorkPool> {
    return this.request("DELETE", `/work-pools/${encodeURIComponent(name)}`);
  }
  setWorkPoolPaused(name: string, paused: boolean): Promise<WorkPool> {
    return this.request("POST", `/work-pools/${encodeURIComponent(name)}/${paused ? "pause" : "resume"}`);
  }
  createWorkQueue(pool: string, name: string, priority?: number): Promise<WorkQueue> {
    return this.request("POST", `/work-pools/${encodeURIComponent(pool)}/queues`, { name, priority });
  }
  claim(
    pool: string,
    body: { agent_id: string; queues: string[]; limit: number; wait_ms: number; cancelling_seen?: string[] },
    signal?: AbortSignal,
  ): Promise<{ flow_runs: FlowRun[]; cancelling: string[] }> {
    return this.request("POST", `/work-pools/${encodeURIComponent(pool)}/claim`, body, {
      signal,
      timeoutMs: body.wait_ms + 15_000,
    });
  }
  listAgents(pool?: string): Promise<Agent[]> {
    return this.all("/agents", { pool });
  }
  heartbeat(body: {
    id: string;
    name: string;
    work_pool_name: string;
    work_queues: string[];
  }): Promise<{ agent: Agent; cancelling: string[] }> {
    return this.request("POST", "/agents/heartbeat", body);
  }

  // variables
  listVariables(): Promise<Variable[]> {
    return this.all("/variables");
  }
  /** undefined when the variable does not exist. */
  async findVariable(name: string): Promise<Variable | undefined> {
    try {
      return await this.request<Variable>("GET", `/variables/${encodeURIComponent(name)}`);
    } catch (err) {
      if (err instanceof WeirError && err.code === "NOT_FOUND") return undefined;
      throw err;
    }
  }
  setVariable(name: string, value: unknown): Promise<Variable> {
    return this.request("PUT", `/variables/${encodeURIComponent(name)}`, { value });
  }
  deleteVariable(name: string): Promise<unknown> {
    return this.request("DELETE", `/variables/${encodeURIComponent(name)}`);
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
        `/blocks/${encodeURIComponent(type)}/${encodeURIComponent(name)}`,
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
    return this.request("DELETE", `/blocks/${encodeURIComponent(type)}/${encodeURIComponent(name)}`);
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
