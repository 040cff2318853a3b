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
