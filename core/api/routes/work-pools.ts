import {
  type BaseJobTemplate,
  baseJobTemplateProblems,
  defaultBaseJobTemplate,
  type Infrastructure,
  templateOf,
} from "../../infra/index.ts";
import { type FlowRun, WeirError, type WorkPool } from "../../model/index.ts";
import { requireAgentPool, runTokens } from "../callers.ts";
import { type ReadyContext, SERVER_ACCEPTS } from "../context.ts";
import type { Router } from "../router.ts";
import { check, page, param, readBody } from "../validate.ts";

/** Longest a claim re-checks the database while waiting, for runs written by other processes. */
const RECHECK_MS = 1000; // WEIR_CLAIM_RECHECK_MS

export function workPoolRoutes(r: Router, ctx: ReadyContext): void {
  const store = ctx.store;
  const {
    ClaimBody,
    ConcurrencyLimitBody,
    HeartbeatBody,
    WorkPoolBody,
    WorkPoolUpdateBody,
    WorkQueueBody,
    WorkQueueUpdateBody,
  } = ctx.schemas;

  /** A pool made before base job templates shows its type's default, which is what it runs with. */
  const withTemplate = (pool: WorkPool): WorkPool => {
    const infra = ctx.registry.infrastructure(pool.type);
    return infra
      ? { ...pool, base_job_template: templateOf(pool, infra) as unknown as Record<string, unknown> }
      : pool;
  };

  r.route(
    "post",
    "/api/work-pools",
    "Create a work pool (?if_missing=true returns an existing one)",
    async (c) => {
      const body = await readBody(c, WorkPoolBody, ctx.limits);
      const what = `Cannot create work pool "${body.name}"`;
      const infra = ctx.registry.requireInfrastructure(body.type ?? "process", what);
      const given = body.base_job_template;
      const template =
        given && Object.keys(given).length > 0
          ? checkedTemplate(given, infra, what)
          : defaultBaseJobTemplate(infra);
      const pool = await store.createWorkPool(
        { ...body, base_job_template: template as unknown as Record<string, unknown> },
        c.req.query("if_missing") === "true",
      );
      return c.json(withTemplate(pool), 201);
    },
    WorkPoolBody,
  );
  r.route(
    "patch",
    "/api/work-pools/:name",
    "Change a work pool's description, concurrency limit or base job template",
    async (c) => {
      const body = await readBody(c, WorkPoolUpdateBody, ctx.limits);
      const name = param(c, "name");
      const pool = await store.getWorkPool(name);
      const what = `Cannot update work pool "${name}"`;
      const template =
        body.base_job_template === undefined
          ? undefined
          : checkedTemplate(
              body.base_job_template,
              ctx.registry.requireInfrastructure(pool.type, what),
              what,
            );
      return c.json(
        withTemplate(
          await store.updateWorkPool(name, {
            ...body,
            base_job_template: template as unknown as Record<string, unknown> | undefined,
          }),
        ),
      );
    },
    WorkPoolUpdateBody,
  );
  r.route("get", "/api/work-pools", "List work pools (?limit=N&offset=N)", async (c) =>
    c.json((await store.listWorkPools(page(c, ctx.limits))).map(withTemplate)),
  );
  r.route("get", "/api/work-pools/:name", "Read a work pool", async (c) =>
    c.json(withTemplate(await store.getWorkPool(param(c, "name")))),
  );
  r.route(
    "get",
    "/api/work-pool-types/:type/base-job-template",
    "The base job template a new pool of this type gets",
    async (c) => {
      const type = param(c, "type");
      return c.json(defaultBaseJobTemplate(ctx.registry.requireInfrastructure(type, "No template")));
    },
  );
  r.route("delete", "/api/work-pools/:name", "Delete a work pool", async (c) =>
    c.json(await store.deleteWorkPool(param(c, "name"))),
  );
  r.route("post", "/api/work-pools/:name/pause", "Pause a work pool (agents claim nothing)", async (c) =>
    c.json(await store.setWorkPoolPaused(param(c, "name"), true)),
  );
  r.route("post", "/api/work-pools/:name/resume", "Resume a work pool", async (c) => {
    const pool = await store.setWorkPoolPaused(param(c, "name"), false);
    ctx.wakeups.notify(pool.name);
    return c.json(pool);
  });
  r.route(
    "post",
    "/api/work-pools/:name/queues",
    "Create a work queue in a pool",
    async (c) => {
      const { name, ...rest } = await readBody(c, WorkQueueBody, ctx.limits);
      return c.json(await store.createWorkQueue(param(c, "name"), name, rest), 201);
    },
    WorkQueueBody,
  );
  r.route(
    "patch",
    "/api/work-pools/:name/queues/:queue",
    "Change a work queue: priority, concurrency_limit (null clears it), is_paused, description",
    async (c) => {
      const body = await readBody(c, WorkQueueUpdateBody, ctx.limits);
      const pool = param(c, "name");
      const q = await store.updateWorkQueue(pool, param(c, "queue"), body);
      // A resumed queue, a raised limit or a new priority may let waiting runs start.
      ctx.wakeups.notify(pool);
      return c.json(q);
    },
    WorkQueueUpdateBody,
  );

  r.route(
    "delete",
    "/api/work-pools/:name/queues/:queue",
    "Delete a work queue (not the default one)",
    async (c) => c.json(await store.deleteWorkQueue(param(c, "name"), param(c, "queue"))),
  );

  r.route("get", "/api/concurrency-limits", "Tag concurrency limits, with their active runs", async (c) =>
    c.json(await store.listConcurrencyLimits()),
  );
  r.route("get", "/api/concurrency-limits/:tag", "A tag's concurrency limit", async (c) =>
    c.json(await store.getConcurrencyLimit(param(c, "tag"))),
  );
  r.route(
    "put",
    "/api/concurrency-limits/:tag",
    "Create or change a tag's concurrency limit: at most `limit` active flow runs carrying the tag",
    async (c) => {
      const body = await readBody(c, ConcurrencyLimitBody, ctx.limits);
      // A tag as runs carry it (their tags follow the same rule): one no run can carry limits nothing.
      const tag = check(ctx.schemas.name, param(c, "tag"), "tag");
      return c.json(await store.setConcurrencyLimit(tag, body.limit));
    },
    ConcurrencyLimitBody,
  );
  r.route("delete", "/api/concurrency-limits/:tag", "Remove a tag's concurrency limit", async (c) => {
    const gone = await store.deleteConcurrencyLimit(param(c, "tag"));
    // Runs it held back may start now, in any pool.
    for (const p of await store.listWorkPools()) ctx.wakeups.notify(p.name);
    return c.json(gone);
  });

  r.route(
    "post",
    "/api/work-pools/:name/claim",
    "Claim due runs for an agent, and learn which of its runs are being cancelled; waits up to wait_ms for either (long poll)",
    async (c) => {
      const name = param(c, "name");
      requireAgentPool(c, name);
      const body = await readBody(c, ClaimBody, ctx.limits);
      const deadline = Date.now() + body.wait_ms;
      // With runs, the answer carries what the agent would otherwise fetch for each: the pool as it
      // is now (its template) and each run's deployment (what its engine needs to start).
      const answer = async (runs: FlowRun[], cancelling: string[]) => {
        // What set_state takes, said here too: engines that an agent starts running (`start`)
        // send no RUNNING of their own to learn it from.
        c.header("x-weir-accepts", SERVER_ACCEPTS);
        if (runs.length === 0) return c.json({ flow_runs: runs, cancelling });
        const ids = [...new Set(runs.map((r) => r.deployment_id).filter((id): id is string => !!id))];
        return c.json({
          flow_runs: runs,
          cancelling,
          work_pool: await store.getWorkPool(name),
          deployments: Object.fromEntries(await store.getDeploymentsByIds(ids)),
          ...(ctx.auth ? { tokens: await runTokens(ctx, runs) } : {}),
        });
      };
      const signal = c.req.raw.signal;
      const seen = new Set(body.cancelling_seen);
      // Runs claimed for this agent whose answer it never got (its server died mid-request).
      if (body.running) {
        // An agent whose claims may start runs (start given as true or a number) holds its RUNNING
        // runs too: one it does not list is one it never got.
        const lost = await store.unclaimedByAgent(body.agent_id, body.running, {
          started: body.start !== false,
          workPoolName: name,
        });
        if (body.release) {
          if (lost.length > 0) {
            await store.releaseClaims(
              body.agent_id,
              lost.map((r) => r.id),
            );
            ctx.wakeups.notify(name);
          }
          return c.json({ flow_runs: [], cancelling: [] });
        }
        if (lost.length > 0) return answer(lost, []);
      }
      await store.requireWorkPool(name); // a 404 for a pool that does not exist
      for (;;) {
        const since = ctx.wakeups.mark();
        // Runs due by the clock between the claim's look and the wait below are the next start.
        const lookedAt = new Date().toISOString();
        let runs: Awaited<ReturnType<typeof store.claimFlowRuns>> = [];
        // An agent that went away while waiting must not be handed runs it will never start.
        if (signal.aborted) return c.json({ flow_runs: [], cancelling: [] });
        // The store decides what may start: paused pools and queues, and every concurrency limit.
        if (body.limit > 0) {
          runs = await store.claimFlowRuns({
            workPoolName: name,
            queues: body.queues,
            agentId: body.agent_id,
            limit: body.limit,
            start: body.start,
          });
          // The agent hung up meanwhile (it was stopped): nobody would start these.
          if (signal.aborted && runs.length > 0) {
            await store.releaseClaims(
              body.agent_id,
              runs.map((r) => r.id),
            );
            ctx.wakeups.notify(name);
            return c.json({ flow_runs: [], cancelling: [] });
          }
        }
        const cancelling = (await store.listCancellingRuns(body.agent_id, name)).filter(
          (id) => !seen.has(id),
        );
        const left = deadline - Date.now();
        if (runs.length > 0 || cancelling.length > 0 || left <= 0 || signal.aborted) {
          return answer(runs, cancelling);
        }
        const next = await store.nextScheduledStart(name, lookedAt);
        const untilNext = next ? Date.parse(next) - Date.now() : Number.POSITIVE_INFINITY;
        await ctx.wakeups.wait(
          name,
          Math.max(5, Math.min(left, untilNext, ctx.claimRecheckMs ?? RECHECK_MS)),
          signal,
          since,
        );
      }
    },
    ClaimBody,
  );

  r.route(
    "post",
    "/api/agents/heartbeat",
    "Record an agent's heartbeat; answers with the ids of its runs being cancelled",
    async (c) => {
      const body = await readBody(c, HeartbeatBody, ctx.limits);
      requireAgentPool(c, body.work_pool_name);
      // An agent id is its pool's: a heartbeat naming it for another pool (a token for that pool
      // keeping another pool's dead agent alive, or stopping it) is refused.
      const agent = await store.heartbeat(body);
      if (!agent)
        throw new WeirError(
          "CONFLICT",
          `agent ${body.id} belongs to another work pool than "${body.work_pool_name}": an agent's id is its own (start it with a new id)`,
        );
      // Said before the agent's first claim, which may then start runs (a `start` number).
      c.header("x-weir-accepts", SERVER_ACCEPTS);
      // Five heartbeats per agent timeout, at most every 5 s: a shorter timeout
      // (WEIR_AGENT_TIMEOUT_SECONDS) makes agents beat faster instead of looking dead.
      const heartbeatMs = Math.max(200, Math.min(5_000, Math.floor((ctx.agentTimeoutMs ?? 25_000) / 5)));
      return c.json({
        agent,
        cancelling: await store.listCancellingRuns(body.id, body.work_pool_name),
        heartbeat_ms: heartbeatMs,
        // Runs it still runs that are not its own any more (ended while it could not be heard).
        ...(body.running?.length ? { ended: await store.runsNotHeldBy(body.id, body.running) } : {}),
      });
    },
    HeartbeatBody,
  );
  r.route(
    "get",
    "/api/agents",
    "List agents, each ONLINE or OFFLINE (stopped: when one said it had stopped) (?pool=NAME&limit=N&offset=N)",
    async (c) => {
      const cutoff = Date.now() - (ctx.agentTimeoutMs ?? 25_000);
      const agents = await store.listAgents(c.req.query("pool"), page(c, ctx.limits));
      return c.json(
        agents.map((a) => ({
          ...a,
          status: !a.stopped && Date.parse(a.last_heartbeat) >= cutoff ? "ONLINE" : "OFFLINE",
        })),
      );
    },
  );
}

/** A base job template given for a pool of this infrastructure; INVALID naming each problem. */
function checkedTemplate(given: unknown, infra: Infrastructure, what: string): BaseJobTemplate {
  const problems = baseJobTemplateProblems(given, infra);
  if (problems.length > 0)
    throw new WeirError("INVALID", `${what}: its base job template is not valid: ${problems.join("; ")}`, {
      fields: { problems },
    });
  return given as BaseJobTemplate;
}
