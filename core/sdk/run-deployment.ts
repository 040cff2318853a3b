import { WeirClient } from "../client/index.ts";
import { describeError, type FlowRun, isTerminal, validateParameters, WeirError } from "../model/index.ts";
import { currentContext, currentLogger } from "./context.ts";

export interface RunDeploymentOptions {
  /** Merged over the deployment's default parameters, and checked against its schema first. */
  parameters?: Record<string, unknown>;
  /** When the run may start (a Date or ISO 8601 text); now by default. */
  scheduledTime?: Date | string;
  /** Added to the deployment's tags. */
  tags?: string[];
  /** Merged over the deployment's job variables, checked against its pool's template. */
  jobVariables?: Record<string, unknown>;
  /** A queue of the deployment's work pool (default: the deployment's). */
  workQueueName?: string;
  /** The same key for the same deployment gives back the run it made instead of a new one. */
  idempotencyKey?: string;
  /**
   * Seconds to wait for the run to reach a final state (followed by long poll): 0 returns at
   * once; by default it waits as long as the run takes.
   */
  timeout?: number;
  /** Link the run to the calling flow run as its subflow (default: true inside a flow run). */
  asSubflow?: boolean;
  /** A name for the run (default: a generated one). */
  flowRunName?: string;
}

/** A flow run started by runDeployment(): the run as last seen, and a way to read its result. */
export type DeploymentRun = FlowRun & {
  /**
   * The JSON its flow returned. Waits for the run to finish first (up to `timeout` seconds when
   * given); rejects with the reason when it did not complete or kept no result. A run nothing
   * starts for now (no agent, a paused queue) is waited for with a warning saying why.
   */
  result<T = unknown>(opts?: { timeout?: number }): Promise<T>;
};

/**
 * Starts a flow run of a deployment (`FLOW/NAME`, or its id) and, unless `timeout` is 0, waits
 * for it to end — the counterpart of Prefect's `run_deployment`. Usable in flows (the run becomes
 * a subflow of the caller) and in any script, where it reaches the API at WEIR_API_URL with
 * WEIR_API_KEY.
 */
export function runDeployment(
  name: string,
  options: RunDeploymentOptions = {},
): Promise<DeploymentRun> & { result<T = unknown>(opts?: { timeout?: number }): Promise<T> } {
  const started = start(name, options);
  return Object.assign(started, {
    result: <T>(opts?: { timeout?: number }) => started.then((run) => run.result<T>(opts)),
  });
}

async function start(name: string, o: RunDeploymentOptions): Promise<DeploymentRun> {
  if (typeof name !== "string" || name.trim() === "")
    throw new WeirError("INVALID", 'runDeployment(name): give the deployment as "FLOW/NAME" (or its id)');
  if (o.timeout !== undefined && !(typeof o.timeout === "number" && o.timeout >= 0))
    throw new WeirError(
      "INVALID",
      `runDeployment(${JSON.stringify(name)}): timeout must be a number of seconds from 0 up (got ${JSON.stringify(o.timeout)})`,
    );
  const ctx = currentContext();
  const client = ctx?.client ?? new WeirClient();
  const deployment = await client.getDeployment(name);
  const label = `${deployment.flow_name}/${deployment.name}`;
  // Checked here, before a run exists: a wrong field is named with what it should be.
  const parameters = { ...deployment.parameters, ...o.parameters };
  if (deployment.enforce_parameter_schema)
    validateParameters(deployment.parameter_openapi_schema, parameters, label);

  const asSubflow = o.asSubflow ?? Boolean(ctx?.flowRunId);
  if (asSubflow && !ctx?.flowRunId)
    throw new WeirError(
      "INVALID",
      `runDeployment(${JSON.stringify(label)}): asSubflow needs a calling flow run, and this code runs outside one`,
    );
  // As in Prefect, the calling run shows the child as a task run standing for it.
  const placeholder = asSubflow && ctx?.reporter ? Bun.randomUUIDv7() : undefined;
  if (placeholder)
    ctx?.reporter?.taskRunStarted({ id: placeholder, name: label, taskKey: `deployment:${label}` });
  const settle = (type: "COMPLETED" | "FAILED" | "CANCELLED", message?: string) => {
    if (placeholder) ctx?.reporter?.taskRunState(placeholder, { type, message });
  };
  let run: FlowRun;
  try {
    const when = o.scheduledTime instanceof Date ? o.scheduledTime.toISOString() : o.scheduledTime;
    run = await client.runDeployment(deployment.id, {
      parameters: o.parameters ?? {},
      tags: o.tags,
      job_variables: o.jobVariables,
      scheduled_time: when,
      work_queue_name: o.workQueueName,
      idempotency_key: o.idempotencyKey,
      name: o.flowRunName,
      parent_flow_run_id: asSubflow ? (ctx?.flowRunId ?? undefined) : undefined,
      parent_task_run_id: placeholder,
    });
  } catch (err) {
    settle("FAILED", describeError(err));
    throw err;
  }
  const log = currentLogger();
  log.info(`Started flow run ${run.name} (${run.id}) of deployment ${label}`);
  if (o.timeout !== 0) {
    const ms = o.timeout === undefined ? Number.POSITIVE_INFINITY : o.timeout * 1000;
    try {
      run = await client.waitForFlowRun(run.id, ms, ctx?.signal);
    } catch (err) {
      settle("FAILED", `Stopped waiting for flow run ${run.name}: ${describeError(err)}`);
      throw err;
    }
  }
  if (isTerminal(run.state.type)) {
    settle(
      run.state.type === "COMPLETED" ? "COMPLETED" : run.state.type === "CANCELLED" ? "CANCELLED" : "FAILED",
      run.state.message ?? undefined,
    );
  } else {
    settle("COMPLETED", `Started flow run ${run.name}; it was ${run.state.name} when the caller went on`);
    if (o.timeout !== 0 && run.state.type === "SCHEDULED") {
      const idle = await noAgentPolling(client, run.work_pool_name, run.work_queue_name);
      if (idle) log.warning(`Flow run ${run.name} (${run.id}) is still Scheduled: ${idle}`);
    }
  }
  return withResult(client, run);
}

function withResult(client: WeirClient, run: FlowRun): DeploymentRun {
  return Object.assign(run, {
    async result<T>(opts: { timeout?: number } = {}): Promise<T> {
      let done = isTerminal(run.state.type) ? run : await client.getFlowRun(run.id);
      if (!isTerminal(done.state.type)) {
        // A run nothing starts for now (a paused queue holding it on purpose, no agent yet) is
        // waited for, but said, so a wait that lasts is not a silent one.
        if (done.state.type === "SCHEDULED") {
          const idle = await noAgentPolling(client, done.work_pool_name, done.work_queue_name);
          if (idle)
            currentLogger().warning(
              `result(): waiting for flow run ${done.name} (${done.id}), which nothing starts for now: ${idle}${opts.timeout === undefined ? " (give result({ timeout: seconds }) to wait less)" : ""}`,
            );
        }
        const ms = opts.timeout === undefined ? Number.POSITIVE_INFINITY : Math.max(0, opts.timeout) * 1000;
        done = await client.waitForFlowRun(run.id, ms, currentContext()?.signal);
        if (!isTerminal(done.state.type))
          throw new WeirError(
            "FAILED",
            `result(): flow run ${done.name} (${done.id}) is still ${done.state.name} after ${opts.timeout} s`,
          );
      }
      return (await client.flowRunResult(done.id)) as T;
    },
  });
}

/**
 * Why a run of `pool` (and `queue`) will not be picked up for now: the pool is missing or paused,
 * the queue is paused, or no agent polls the pool; null when none of these holds (or when this
 * client's token may not read pools and agents: nothing to say).
 */
export async function noAgentPolling(
  client: WeirClient,
  pool: string | null,
  queue?: string | null,
): Promise<string | null> {
  if (!pool) return "its deployment has no work pool, so no agent will run it (set one and deploy again)";
  try {
    const wp = await client.getWorkPool(pool);
    if (wp.is_paused) return `work pool "${pool}" is paused (resume it with: weir work-pool resume ${pool})`;
    if (queue && wp.queues.some((q) => q.name === queue && q.is_paused))
      return `work queue "${queue}" of pool "${pool}" is paused (resume it with: weir work-queue resume ${queue} --pool ${pool})`;
  } catch (err) {
    if (err instanceof WeirError && err.code === "NOT_FOUND")
      return `work pool "${pool}" does not exist (create it with: weir work-pool create ${pool}, then start an agent)`;
    return null;
  }
  try {
    const agents = await client.listAgents(pool);
    if (agents.some((a) => a.status !== "OFFLINE")) return null;
  } catch {
    return null;
  }
  return `no agent is polling work pool "${pool}" (start one with: weir agent --pool ${pool})`;
}
