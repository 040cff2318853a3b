import { forbidden } from "../../auth/index.ts";
import { checkJobVariables, mergeJobVariables, templateOf } from "../../infra/index.ts";
import { didYouMean, type FlowRun, validateParameters, WeirError } from "../../model/index.ts";
import type * as q from "../../store/index.ts";
import { blocksNamed, callerOf, requireParent, requireRuns, secretGrant } from "../callers.ts";
import type { ReadyContext } from "../context.ts";
import type { Router } from "../router.ts";
import { page, param, readBody } from "../validate.ts";
import { scheduleInput } from "./schedules.ts";

export function deploymentRoutes(r: Router, ctx: ReadyContext): void {
  const store = ctx.store;
  const { DeploymentBody, RunDeploymentBody } = ctx.schemas;

  r.route(
    "put",
    "/api/deployments",
    "Create or update a deployment (unique by flow name + deployment name)",
    async (c) => {
      const body = await readBody(c, DeploymentBody, ctx.limits);
      // Defaults a run would be refused for are refused now, not on every run (missing required
      // parameters are fine: runs may give them).
      if (body.enforce_parameter_schema !== false && body.parameter_openapi_schema) {
        const label = `deployment "${body.flow_name}/${body.name}"`;
        validateParameters(
          body.parameter_openapi_schema,
          body.parameters ?? {},
          `${label} (its default parameters)`,
          {
            partial: true,
          },
        );
        for (const [i, s] of (body.schedules ?? []).entries()) {
          if (s.parameters)
            validateParameters(
              body.parameter_openapi_schema,
              { ...body.parameters, ...s.parameters },
              `${label} (the parameters of schedules[${i}])`,
              { partial: true },
            );
        }
      }
      if (body.work_pool_name) {
        const pool = await store.findWorkPool(body.work_pool_name);
        if (!pool) {
          throw new WeirError(
            "NOT_FOUND",
            `Cannot deploy "${body.flow_name}/${body.name}": work pool "${body.work_pool_name}" does not exist (create it with: weir work-pool create ${body.work_pool_name} --type ${ctx.registry.poolTypeFor(body.job_variables)})`,
          );
        }
        // Job variables the pool's template refuses would fail every run: refused now. Missing
        // required ones are fine here (runs may give them).
        const infra = ctx.registry.infrastructure(pool.type);
        if (infra && body.job_variables)
          checkJobVariables(
            templateOf(pool, infra),
            body.job_variables,
            `deployment "${body.flow_name}/${body.name}" (work pool "${pool.name}", ${pool.type})`,
            { partial: true },
          );
      }
      // `schedule` (one, Prefect 2's field) is shorthand for `schedules: [{ schedule }]`.
      const raw =
        body.schedules !== undefined
          ? body.schedules
          : body.schedule !== undefined
            ? body.schedule
              ? [{ schedule: body.schedule }]
              : []
            : undefined;
      let schedules: q.ScheduleInput[] | undefined;
      if (raw !== undefined) {
        schedules = [];
        for (const [i, s] of (raw ?? []).entries())
          schedules.push(await scheduleInput(s, `schedules[${i}]`, ctx));
      }
      // The queue last, once everything else was found right: a refused deploy makes none.
      if (body.work_pool_name && body.work_queue_name) {
        const pool = await store.getWorkPool(body.work_pool_name);
        await store.ensureWorkQueue(pool.id, body.work_queue_name);
      }
      const result = await store.upsertDeployment({ ...body, schedules });
      await ctx.scheduleNow?.([result.deployment.id]);
      return c.json(result, result.created ? 201 : 200);
    },
    DeploymentBody,
  );

  r.route("get", "/api/deployments", "List deployments (?flow=NAME&limit=N&offset=N)", async (c) =>
    c.json(await store.listDeployments({ flowName: c.req.query("flow"), ...page(c, ctx.limits) })),
  );

  r.route("get", "/api/deployments/:id", "Read a deployment by id", async (c) =>
    c.json(await store.getDeployment(param(c, "id"))),
  );

  r.route(
    "patch",
    "/api/deployments/:id",
    "Change a deployment's description, default parameters or tags (the rest comes from deploy)",
    async (c) => {
      const body = await readBody(c, ctx.schemas.DeploymentPatchBody, ctx.limits);
      const d = await store.getDeployment(param(c, "id"));
      // Defaults are checked as at deploy: each one given must suit the flow (missing ones may
      // come with each run).
      if (body.parameters && d.enforce_parameter_schema)
        validateParameters(d.parameter_openapi_schema, body.parameters, `${d.flow_name}/${d.name}`, {
          partial: true,
        });
      return c.json(await store.updateDeploymentFields(d.id, body));
    },
    ctx.schemas.DeploymentPatchBody,
  );

  r.route("get", "/api/deployments/name/:flow/:name", "Read a deployment by FLOW/NAME", async (c) =>
    c.json(await store.getDeployment(`${param(c, "flow")}/${param(c, "name")}`)),
  );

  r.route("delete", "/api/deployments/:id", "Delete a deployment (its past runs stay)", async (c) =>
    c.json(await store.deleteDeployment(param(c, "id"))),
  );

  r.route("post", "/api/deployments/:id/pause", "Pause a deployment", async (c) =>
    c.json(await store.setDeploymentPaused(param(c, "id"), true)),
  );
  r.route("post", "/api/deployments/:id/resume", "Resume a deployment", async (c) =>
    c.json(await store.setDeploymentPaused(param(c, "id"), false)),
  );

  r.route(
    "post",
    "/api/deployments/:id/runs",
    "Create a flow run of a deployment; parameters merge over the deployment's and are validated first",
    async (c) => {
      const body = await readBody(c, RunDeploymentBody, ctx.limits);
      await requireParent(ctx, c, body.parent_flow_run_id);
      // A flow's own token starts a deployment's run as the deployment says: it may not change
      // where or how it runs.
      const caller = callerOf(c);
      if (caller.scope === "run" && (body.job_variables || body.work_queue_name))
        throw forbidden(
          "a run's token starts deployment runs as deployed: job_variables and work_queue_name need a deploy token",
        );
      // The blocks a run's parameters name are the blocks its own token may open: a run's token
      // may pass on only those it may open itself (else a flow could reach any secret this way).
      if (caller.scope === "run" && body.parameters) {
        const grant = await secretGrant(ctx, caller);
        const named = [...blocksNamed(body.parameters)].filter((b) => grant !== "all" && !grant.has(b));
        if (named.length > 0)
          throw forbidden(
            `a run's token may pass in parameters only the blocks its own run uses; block ${named[0]} is not one of them (pass it from the deployment's parameters, or use a deploy token)`,
          );
      }
      if (body.work_queue_name) {
        const d = await store.getDeployment(param(c, "id"));
        if (!d.work_pool_name)
          throw new WeirError(
            "INVALID",
            `work_queue_name: ${d.flow_name}/${d.name} has no work pool, so its runs have no queues`,
            { fields: { work_queue_name: "the deployment has no work pool" } },
          );
        const pool = await store.getWorkPool(d.work_pool_name);
        // An ad hoc run names an existing queue: a typo would otherwise make a queue of its own.
        if (!pool.queues.some((q) => q.name === body.work_queue_name)) {
          const names = pool.queues.map((q) => q.name);
          const near = didYouMean(body.work_queue_name, names);
          throw new WeirError(
            "INVALID",
            `work_queue_name: pool "${pool.name}" has no queue "${body.work_queue_name}"${near ? ` (did you mean "${near}"?)` : ""}; its queues: ${names.join(", ")} (create one with: weir work-queue create ${body.work_queue_name} --pool ${pool.name})`,
            { fields: { work_queue_name: "no such queue in the deployment's pool" } },
          );
        }
      }
      // A run's own job variables are checked with the deployment's under the pool's template
      // (runs without any were checked when deployed, and keep the batched path).
      if (body.job_variables && Object.keys(body.job_variables).length > 0) {
        const d = await store.getDeployment(param(c, "id"));
        const pool = d.work_pool_name ? await store.findWorkPool(d.work_pool_name) : undefined;
        const infra = pool && ctx.registry.infrastructure(pool.type);
        if (pool && infra)
          checkJobVariables(
            templateOf(pool, infra),
            mergeJobVariables(d.job_variables, body.job_variables),
            `a run of ${d.flow_name}/${d.name} (work pool "${pool.name}", ${pool.type})`,
          );
      }
      // The same key for the same deployment gives back the run it made (a client retrying a
      // creation whose answer it lost makes no second run).
      const key = body.idempotency_key ? `run:${param(c, "id")}:${body.idempotency_key}` : undefined;
      if (key) {
        const existing = await store.findFlowRunByIdempotencyKey(key);
        if (existing) {
          await requireRuns(ctx, c, [existing.id]);
          return c.json(existing, 200);
        }
      }
      const create = () =>
        ctx.runWriter.createForDeployment(param(c, "id"), (d) => {
          const parameters = { ...d.parameters, ...body.parameters };
          if (d.enforce_parameter_schema) {
            validateParameters(d.parameter_openapi_schema, parameters, `${d.flow_name}/${d.name}`);
          }
          return {
            flow_id: d.flow_id,
            names: { flow: d.flow_name, deployment: d.name },
            deployment_id: d.id,
            name: body.name,
            work_pool_name: d.work_pool_name,
            work_queue_name: body.work_queue_name ?? d.work_queue_name,
            parameters,
            job_variables: mergeJobVariables(d.job_variables, body.job_variables),
            tags: [...new Set([...d.tags, ...(body.tags ?? [])])],
            state: { type: "SCHEDULED", scheduledTime: body.scheduled_time },
            idempotency_key: key,
            parent_flow_run_id: body.parent_flow_run_id,
            parent_task_run_id: body.parent_task_run_id,
          };
        });
      let run: FlowRun;
      try {
        run = await create();
      } catch (err) {
        // Two requests with one key at once: the database let one through; the other gets its run.
        const existing = key ? await store.findFlowRunByIdempotencyKey(key) : undefined;
        if (existing) {
          await requireRuns(ctx, c, [existing.id]);
          return c.json(existing, 200);
        }
        throw err;
      }
      if (run.work_pool_name) ctx.wakeups.notify(run.work_pool_name);
      return c.json(run, 201);
    },
    RunDeploymentBody,
  );
}
