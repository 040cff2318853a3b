import { forbidden } from "../../auth/index.ts";
import {
  assertTransition,
  type FlowRun,
  isTerminal,
  parseStateFilter,
  WeirError,
} from "../../model/index.ts";
import { callerOf, requireParent, requireRuns } from "../callers.ts";
import { type ReadyContext, SERVER_ACCEPTS } from "../context.ts";
import type { Router } from "../router.ts";
import { page, param, readBody } from "../validate.ts";

export function flowRunRoutes(r: Router, ctx: ReadyContext): void {
  const store = ctx.store;
  const { FlowRunBody, FlowRunStateBody, LogsBody, StateBody, TaskRunBody, TaskRunSnapshotsBody } =
    ctx.schemas;

  /**
   * Ends what a run leaves open when it ends: subflow runs that ran inside its process (no
   * deployment of their own) cannot outlive it. A cancelled parent cancels them; otherwise they
   * crash with the reason.
   */
  const endInProcessChildren = async (parent: FlowRun): Promise<void> => {
    // Only runs inside this process: below a deployment run (runDeployment's child, with a
    // process of its own) the chain is that run's business.
    const inside = new Set([parent.id]);
    for (const child of await store.descendantRuns(parent.id)) {
      if (child.deployment_id || !inside.has(child.parent_flow_run_id ?? "")) continue;
      inside.add(child.id);
      if (isTerminal(child.state.type)) continue;
      const cancelled = parent.state.type === "CANCELLED";
      await store
        .setFlowRunState(child.id, {
          type: cancelled ? "CANCELLED" : "CRASHED",
          message: `Its parent flow run ${parent.name} (${parent.id}) ended ${parent.state.name} while this subflow ran`,
        })
        .catch(() => {}); // it ended meanwhile by itself
      ctx.wakeups.notify(`run:${child.id}`);
    }
  };

  r.route("get", "/api/flows", "List flows (?limit=N&offset=N)", async (c) =>
    c.json(await store.listFlows(page(c, ctx.limits))),
  );

  r.route(
    "post",
    "/api/flow-runs",
    "Create a flow run without a deployment (local `weir run`, tracked by the API)",
    async (c) => {
      const body = await readBody(c, FlowRunBody, ctx.limits);
      // Checked before the flow is recorded, so a refused run leaves nothing behind.
      assertTransition("a new flow run", null, body.state?.type ?? "SCHEDULED");
      const parent = await requireParent(ctx, c, body.parent_flow_run_id);
      const flow = await store.upsertFlow(body.flow_name);
      const run = await store.createFlowRun({
        flow_id: flow.id,
        name: body.name,
        parameters: body.parameters,
        tags: body.tags,
        state: body.state && { ...body.state, scheduledTime: body.state.scheduled_time },
        parent_flow_run_id: parent?.id,
        parent_task_run_id: body.parent_task_run_id,
        // It runs in its parent's process, under the parent's claim (the lease covers both).
        agent_id: parent?.agent_id,
      });
      return c.json(run, 201);
    },
    FlowRunBody,
  );

  r.route(
    "get",
    "/api/flow-runs",
    "List flow runs, newest first (?deployment=ID&flow=NAME&name=RUN_NAME&state=TYPE,TYPE (or LATE, AWAITINGRETRY, RETRYING)&pool=NAME&parent=RUN_ID&tag=TAG&created_after=TIME&created_before=TIME&limit=N&offset=N)",
    async (c) => {
      const states = parseStateFilter(
        c.req.query("state")?.split(",").filter(Boolean) ?? [],
        "state",
        "INVALID",
      );
      return c.json(
        await store.listFlowRuns({
          deploymentId: c.req.query("deployment"),
          flowName: c.req.query("flow"),
          name: c.req.query("name"),
          workPoolName: c.req.query("pool"),
          parentFlowRunId: c.req.query("parent"),
          tag: c.req.query("tag"),
          createdAfter: timeQuery(c.req.query("created_after"), "created_after"),
          createdBefore: timeQuery(c.req.query("created_before"), "created_before"),
          stateTypes: states.types,
          stateNames: states.names,
          ...page(c, ctx.limits, 50),
        }),
      );
    },
  );

  r.route("get", "/api/flow-runs/:id", "Read a flow run", async (c) =>
    c.json(await store.getFlowRun(param(c, "id"))),
  );

  r.route(
    "get",
    "/api/flow-runs/:id/wait",
    "Wait for a flow run to reach a final state (long poll, ?timeout_ms=N up to 60000, default 30000); answers the run as it is then",
    async (c) => {
      const id = param(c, "id");
      const raw = c.req.query("timeout_ms") ?? "30000";
      const timeout = Number(raw);
      if (!/^\d+$/.test(raw) || timeout > 60_000)
        throw new WeirError(
          "INVALID",
          `timeout_ms=${raw} is not allowed: use a whole number of milliseconds from 0 to 60000`,
        );
      const deadline = Date.now() + timeout;
      const signal = c.req.raw.signal;
      for (;;) {
        const since = ctx.wakeups.mark();
        const run = await store.getFlowRun(id);
        const left = deadline - Date.now();
        if (isTerminal(run.state.type) || left <= 0 || signal.aborted) return c.json(run);
        // Final states recorded through any server wake this at once; other ends (an agent's runs
        // crashed by the sweep) are seen within a second.
        await ctx.wakeups.wait(`run:${id}`, Math.min(left, 1_000), signal, since);
      }
    },
  );

  r.route(
    "get",
    "/api/flow-runs/:id/states",
    "A flow run's state history, oldest first (?limit=N&offset=N)",
    async (c) => c.json(await store.listFlowRunStates(param(c, "id"), page(c, ctx.limits))),
  );

  r.route(
    "post",
    "/api/flow-runs/:id/set_state",
    "Propose a new state; the server refuses illegal transitions with 409",
    async (c) => {
      const body = await readBody(c, FlowRunStateBody, ctx.limits);
      const { agent_id, result, scheduled_time, task_runs, ...proposal } = body;
      if (result !== undefined && proposal.type !== "COMPLETED")
        throw new WeirError(
          "INVALID",
          `result: only a COMPLETED state carries a result (got ${proposal.type})`,
          {
            fields: { result: "only with COMPLETED" },
          },
        );
      await requireRuns(ctx, c, [param(c, "id")]);
      if (task_runs?.length) {
        const other = task_runs.findIndex((t) => t.flow_run_id !== param(c, "id"));
        if (other >= 0)
          throw new WeirError(
            "INVALID",
            `task_runs[${other}].flow_run_id: must be this flow run's id (${param(c, "id")}); report other runs' task runs through POST /api/task-runs/snapshots`,
            { fields: { [`task_runs[${other}].flow_run_id`]: "must be this flow run's id" } },
          );
      }
      // The task runs are written with the state, after its checks (a claim that expired, a run
      // that ended): refused together, never half.
      const run = await store.setFlowRunState(
        param(c, "id"),
        { ...proposal, scheduledTime: scheduled_time },
        { agentId: agent_id, result, taskRuns: task_runs },
      );
      c.header("x-weir-accepts", SERVER_ACCEPTS);
      if (isTerminal(run.state.type)) await endInProcessChildren(run);
      // Those waiting for the run's end first (their answer is one read), then the claims waiting
      // on the pool (a run to start again, or a slot of its limits freed), which look again.
      if (isTerminal(run.state.type)) ctx.wakeups.notify(`run:${run.id}`);
      if ((run.state.type === "SCHEDULED" || isTerminal(run.state.type)) && run.work_pool_name)
        ctx.wakeups.notify(run.work_pool_name);
      // The run's own token ends with it.
      if (ctx.auth && isTerminal(run.state.type)) {
        await store.revokeRunTokens(run.id);
        ctx.auth.forget(run.id);
      }
      return c.json(run);
    },
    FlowRunStateBody,
  );

  r.route(
    "get",
    "/api/flow-runs/:id/result",
    "A flow run's result: the JSON its flow returned (404 while it has none, with the reason)",
    async (c) => {
      const run = await store.getFlowRun(param(c, "id"));
      const stored = await store.getFlowRunResult(run.id);
      if (stored) return c.body(stored.json, 200, { "content-type": "application/json" });
      throw new WeirError("NOT_FOUND", noResultReason(run));
    },
  );

  r.route(
    "post",
    "/api/flow-runs/:id/retry",
    "Schedule a finished flow run again, now (a new attempt of the same run)",
    async (c) => {
      const before = await store.getFlowRun(param(c, "id"));
      if (!before.deployment_id)
        throw new WeirError(
          "CONFLICT",
          `Flow run ${before.name} (${before.id}) has no deployment (a weir run or a subflow), so no agent could start it again: run the flow again instead`,
        );
      const run = await store.retryFlowRun(before.id);
      if (run.work_pool_name) ctx.wakeups.notify(run.work_pool_name);
      return c.json(run);
    },
  );

  r.route(
    "post",
    "/api/flow-runs/:id/cancel",
    "Cancel a flow run (CANCELLING while a process runs it)",
    async (c) => {
      const run = await store.getFlowRun(param(c, "id"));
      // A run waiting to retry inside its process (AwaitingRetry, still held by its agent) has a
      // process to stop too: CANCELLING, so the agent ends it.
      const started =
        run.state.type === "RUNNING" ||
        run.state.type === "PENDING" ||
        run.state.type === "PAUSED" ||
        (run.state.type === "SCHEDULED" && run.state.name === "AwaitingRetry" && run.agent_id !== null);
      // A subflow run inside its parent's process has no infrastructure of its own to stop.
      if (started && run.parent_flow_run_id && !run.deployment_id)
        throw new WeirError(
          "CONFLICT",
          `Flow run ${run.name} (${run.id}) is a subflow running inside its parent's process: cancel its parent, flow run ${run.parent_flow_run_id}, which cancels it too`,
        );
      const updated = await store.setFlowRunState(run.id, {
        type: started ? "CANCELLING" : "CANCELLED",
        message: "Cancelled by request",
      });
      // Agents waiting on the pool learn about it at once (see the claim route).
      if (updated.work_pool_name) ctx.wakeups.notify(updated.work_pool_name);
      if (isTerminal(updated.state.type)) ctx.wakeups.notify(`run:${updated.id}`);
      // Its subflow runs are cancelled with it, wherever they run (as Prefect cancels subflows).
      for (const child of await store.descendantRuns(run.id)) {
        if (isTerminal(child.state.type) || child.state.type === "CANCELLING") continue;
        const busy = ["RUNNING", "PENDING", "PAUSED"].includes(child.state.type);
        const done = await store
          .setFlowRunState(child.id, {
            type: busy ? "CANCELLING" : "CANCELLED",
            message: `Cancelled with its parent flow run ${run.name} (${run.id})`,
          })
          .catch(() => null);
        if (done?.work_pool_name) ctx.wakeups.notify(done.work_pool_name);
        if (done && isTerminal(done.state.type)) ctx.wakeups.notify(`run:${done.id}`);
      }
      return c.json(updated);
    },
  );

  r.route("get", "/api/flow-runs/:id/logs", "A flow run's log lines (?after=LOG_ID&limit=N)", async (c) => {
    const id = param(c, "id");
    await store.getFlowRun(id);
    const raw = c.req.query("after") ?? "0";
    const after = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(after))
      throw new WeirError(
        "INVALID",
        `after=${raw} is not allowed: use the id of a log line (a whole number, 0 for the first)`,
      );
    return c.json(await store.listLogs(id, after, page(c, ctx.limits).limit));
  });

  r.route("get", "/api/flow-runs/:id/task-runs", "A flow run's task runs (?limit=N&offset=N)", async (c) =>
    c.json(await store.listTaskRuns(param(c, "id"), page(c, ctx.limits))),
  );

  r.route(
    "post",
    "/api/logs",
    "Append log lines (batched by the engine)",
    async (c) => {
      const lines = await readBody(c, LogsBody, ctx.limits);
      await requireRuns(
        ctx,
        c,
        lines.map((l) => l.flow_run_id),
      );
      // As with task runs below: an engine under a claim names its agent.
      const agentId = c.req.query("agent_id") || undefined;
      return c.json({ inserted: await store.insertLogs(lines, { agentId }) }, 201);
    },
    LogsBody,
  );

  r.route(
    "post",
    "/api/task-runs/snapshots",
    "Write task runs whole, as an engine last saw them (one request for many tasks)",
    async (c) => {
      const snapshots = await readBody(c, TaskRunSnapshotsBody, ctx.limits);
      await requireRuns(
        ctx,
        c,
        snapshots.map((t) => t.flow_run_id),
      );
      // An engine under a claim names its agent, as with set_state: one whose claim expired (the
      // run was crashed and retried since) writes nothing into the run's next attempt, and its
      // engine, told so (409), stops.
      const agentId = c.req.query("agent_id") || undefined;
      return c.json({ written: await store.upsertTaskRuns(snapshots, { agentId }) });
    },
    TaskRunSnapshotsBody,
  );

  r.route(
    "get",
    "/api/flow-runs/:id/execution",
    "What an engine needs to run a flow run: the run and its deployment",
    async (c) => {
      const run = await store.getFlowRun(param(c, "id"));
      await requireRuns(ctx, c, [run.id]);
      const deployment = run.deployment_id
        ? await store.getDeployment(run.deployment_id, { withSchedules: false })
        : null;
      return c.json({ flow_run: run, deployment });
    },
  );

  r.route(
    "post",
    "/api/task-runs",
    "Create a task run",
    async (c) => {
      const body = await readBody(c, TaskRunBody, ctx.limits);
      await requireRuns(ctx, c, [body.flow_run_id]);
      return c.json(
        await store.createTaskRun({
          ...body,
          state: { ...body.state, scheduledTime: body.state.scheduled_time },
        }),
        201,
      );
    },
    TaskRunBody,
  );

  r.route(
    "post",
    "/api/task-runs/:id/set_state",
    "Set a task run's state",
    async (c) => {
      const body = await readBody(c, StateBody, ctx.limits);
      const caller = callerOf(c);
      if (caller.scope === "run" || (caller.scope === "agent" && caller.pool))
        throw forbidden(
          "run and pool-bound agent tokens report task runs through POST /api/task-runs/snapshots",
        );
      return c.json(await store.setTaskRunState(param(c, "id"), body));
    },
    StateBody,
  );
}

/** Why a run has no result to read. */
function noResultReason(run: FlowRun): string {
  const what = `Flow run ${run.name} (${run.id})`;
  if (!isTerminal(run.state.type))
    return `${what} has no result yet: it is ${run.state.name} (wait for it with: weir flow-run logs --follow ${run.id})`;
  if (run.state.type !== "COMPLETED")
    return `${what} has no result: it ended ${run.state.name}${run.state.message ? ` (${run.state.message})` : ""}`;
  return `${what} completed without a stored result${run.state.message ? `: ${run.state.message}` : " (its flow returned nothing)"}`;
}

/** A time in a query (ISO 8601), as stored times are written (UTC with a Z); undefined when absent. */
function timeQuery(raw: string | undefined, name: string): string | undefined {
  if (!raw) return undefined;
  const t = Date.parse(raw);
  if (Number.isNaN(t))
    throw new WeirError(
      "INVALID",
      `${name}=${raw} is not a time (use ISO 8601, such as 2026-01-31T09:00:00Z)`,
    );
  return new Date(t).toISOString();
}
