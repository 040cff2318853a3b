import type { Context } from "hono";
import {
  type Caller,
  forbidden,
  newToken,
  OPEN_CALLER,
  requirePool,
  requireRun,
  tokenHash,
} from "../auth/index.ts";
import type { FlowRun } from "../model/index.ts";
import { placeholders } from "../templating/index.ts";
import type { ReadyContext } from "./context.ts";

/** How long a run's own token lives at most (it ends earlier, with the run's final state). */
const RUN_TOKEN_MS = 7 * 86_400_000;

/** Who is calling (set by the auth middleware; open mode: an admin). */
export function callerOf(c: Context): Caller {
  return ((c as unknown as { get(k: "caller"): Caller | undefined }).get("caller") ?? OPEN_CALLER) as Caller;
}

/** Refuses a pool-bound agent token or a run token acting on runs that are not theirs. */
export async function requireRuns(ctx: ReadyContext, c: Context, ids: Iterable<string>): Promise<void> {
  const caller = callerOf(c);
  if (caller.scope !== "run" && !(caller.scope === "agent" && caller.pool)) return;
  for (const id of new Set(ids)) {
    const run = await ctx.store.getFlowRun(id);
    const below = caller.scope === "run" && run.id !== caller.flowRunId;
    requireRun(caller, run, below ? await ctx.store.ancestorRunIds(run.id) : []);
  }
}

/**
 * Who may make a run a subflow of `parentId`: a run token only below its own run, and a run token
 * makes only subflow runs (it starts nothing of its own). Answers the parent (null without one).
 */
export async function requireParent(
  ctx: ReadyContext,
  c: Context,
  parentId: string | undefined,
): Promise<FlowRun | null> {
  const caller = callerOf(c);
  if (caller.scope === "run" && !parentId)
    throw forbidden(
      `a run's token starts runs only as subflows of its own run (flow run ${caller.flowRunId}): set parent_flow_run_id (runDeployment's asSubflow), or use a deploy token`,
    );
  if (!parentId) return null;
  const parent = await ctx.store.getFlowRun(parentId);
  if (caller.scope === "run" && parent.id !== caller.flowRunId)
    requireRun(caller, parent, await ctx.store.ancestorRunIds(parent.id));
  return parent;
}

/**
 * The blocks whose secret values the caller may read (?include_secrets=true), as TYPE/NAME, or
 * "all". Admin and deploy tokens (deploys resolve build and push steps), and agent tokens for
 * every pool, read all. A pool-bound agent token reads the blocks its pool uses: placeholders in
 * the pool's job template and in its deployments and started runs. A run's token reads the blocks
 * its run uses: its parameters and job variables and its deployment's pull steps. Read tokens none.
 */
export async function secretGrant(ctx: ReadyContext, caller: Caller): Promise<Set<string> | "all"> {
  if (caller.scope === "read") return new Set();
  if (caller.scope === "run") {
    const run = await ctx.store.getFlowRun(caller.flowRunId ?? "");
    const deployment = run.deployment_id ? await ctx.store.getDeployment(run.deployment_id) : null;
    return blocksNamed([
      run.parameters,
      run.job_variables,
      deployment?.pull_steps,
      deployment?.job_variables,
    ]);
  }
  if (caller.scope === "agent" && caller.pool) {
    const pool = await ctx.store.findWorkPool(caller.pool);
    const uses: unknown[] = [pool?.base_job_template];
    for (let offset = 0; ; offset += 1000) {
      const page = await ctx.store.listDeployments({ workPoolName: caller.pool, limit: 1000, offset });
      uses.push(...page.map((d) => [d.pull_steps, d.job_variables, d.parameters]));
      if (page.length < 1000) break;
    }
    const started = await ctx.store.listFlowRuns({
      workPoolName: caller.pool,
      stateTypes: ["PENDING", "RUNNING"],
      limit: 1000,
    });
    uses.push(...started.map((r) => [r.parameters, r.job_variables]));
    return blocksNamed(uses);
  }
  return "all";
}

/** TYPE/NAME of every block a placeholder in `value` names. */
export function blocksNamed(value: unknown): Set<string> {
  const out = new Set<string>();
  for (const p of placeholders(JSON.stringify(value ?? null)))
    if (p.kind === "block") {
      const [, , type, name] = p.name.split(".");
      if (type && name) out.add(`${type}/${name}`);
    }
  return out;
}

export function requireAgentPool(c: Context, pool: string): void {
  requirePool(callerOf(c), pool);
}

/**
 * With auth on, each claimed run gets a token of its own (scope "run", bound to it) that its
 * infrastructure hands to the flow process instead of the agent's: flow code can report and read
 * for its run, nothing else. Only its hash is stored; it is revoked with the run's final state.
 */
export async function runTokens(ctx: ReadyContext, runs: FlowRun[]): Promise<Record<string, string>> {
  if (!ctx.auth || runs.length === 0) return {};
  const out: Record<string, string> = {};
  const expires = new Date(Date.now() + RUN_TOKEN_MS).toISOString();
  for (const run of runs) {
    const token = newToken();
    await ctx.store.createToken({
      name: `run ${run.id}`,
      scope: "run",
      hash: tokenHash(token),
      flowRunId: run.id,
      workPoolName: run.work_pool_name,
      expires,
    });
    out[run.id] = token;
  }
  return out;
}
