import type * as v from "valibot";
import { type Deployment, validateParameters, WeirError } from "../../model/index.ts";
import { assertDeployable, compileSchedule, scheduleSpec } from "../../schedules/index.ts";
import type * as q from "../../store/index.ts";
import type { ReadyContext } from "../context.ts";
import type { Router } from "../router.ts";
import type { BodySchemas } from "../schemas.ts";
import { param, readBody } from "../validate.ts";

/**
 * Checks a schedule body with the one validator the file loader uses too, bounded by the server's
 * limits, and for an rrule also computes its next run time under the time box: a schedule that
 * would stall the scheduler is refused here and never stored.
 */
export async function scheduleInput(
  body: v.InferOutput<BodySchemas["ScheduleBody"]>,
  where: string,
  ctx: ReadyContext,
): Promise<q.ScheduleInput> {
  const compiled = compileSchedule(body.schedule, where, {
    minIntervalSeconds: ctx.limits.minIntervalSeconds,
    timeBoxMs: ctx.limits.scheduleTimeBoxMs,
  });
  assertDeployable(compiled, where);
  const schedule = scheduleSpec(compiled);
  if (compiled.kind === "rrule") {
    try {
      await ctx.expander.next(schedule, { after: Date.now(), n: 1 });
    } catch (err) {
      if (err instanceof WeirError && err.code === "INVALID")
        throw new WeirError("INVALID", `${where}: ${err.message}`, { fields: err.fields });
      throw err;
    }
  }
  return {
    schedule,
    active: body.active,
    parameters: body.parameters,
    slug: body.slug ?? null,
    max_active_runs: body.max_active_runs ?? null,
    catchup: body.catchup ?? null,
  };
}

/** A schedule's parameters over the deployment's, checked as a deploy checks them (missing ones are fine). */
function checkScheduleParameters(d: Deployment, input: q.ScheduleInput, where: string): void {
  if (d.enforce_parameter_schema === false || !d.parameter_openapi_schema || !input.parameters) return;
  validateParameters(
    d.parameter_openapi_schema,
    { ...d.parameters, ...input.parameters },
    `deployment "${d.flow_name}/${d.name}" (the parameters of ${where})`,
    { partial: true },
  );
}

export function scheduleRoutes(r: Router, ctx: ReadyContext): void {
  const store = ctx.store;
  const { ReplaceSchedulesBody, ScheduleBody } = ctx.schemas;
  const after = async (deploymentId: string) => {
    await ctx.scheduleNow?.([deploymentId]);
    return store.getDeployment(deploymentId);
  };

  r.route("get", "/api/deployments/:id/schedules", "A deployment's schedules", async (c) =>
    c.json((await store.getDeployment(param(c, "id"))).schedules),
  );

  r.route(
    "post",
    "/api/deployments/:id/schedules",
    "Add a schedule to a deployment",
    async (c) => {
      const d = await store.getDeployment(param(c, "id"));
      const input = await scheduleInput(await readBody(c, ScheduleBody, ctx.limits), "schedule", ctx);
      checkScheduleParameters(d, input, "the schedule");
      const created = await store.createSchedule(d.id, input);
      await after(d.id);
      return c.json(created, 201);
    },
    ScheduleBody,
  );

  r.route(
    "put",
    "/api/deployments/:id/schedules",
    "Replace all of a deployment's schedules (paused ones stay paused)",
    async (c) => {
      const d = await store.getDeployment(param(c, "id"));
      const body = await readBody(c, ReplaceSchedulesBody, ctx.limits);
      const inputs: q.ScheduleInput[] = [];
      for (const [i, s] of body.schedules.entries()) {
        const input = await scheduleInput(s, `schedules[${i}]`, ctx);
        checkScheduleParameters(d, input, `schedules[${i}]`);
        inputs.push(input);
      }
      await store.replaceSchedules(d.id, inputs);
      return c.json(await after(d.id));
    },
    ReplaceSchedulesBody,
  );

  for (const [verb, active] of [
    ["pause", false],
    ["resume", true],
  ] as const) {
    r.route(
      "post",
      `/api/deployments/:id/schedules/:schedule/${verb}`,
      `${verb === "pause" ? "Pause" : "Resume"} one schedule`,
      async (c) => {
        const d = await store.getDeployment(param(c, "id"));
        const s = await store.setScheduleActive(d.id, param(c, "schedule"), active);
        await after(d.id);
        return c.json(s);
      },
    );
    r.route(
      "post",
      `/api/deployments/:id/${verb}-schedule`,
      `${verb === "pause" ? "Switch off" : "Switch on"} all of a deployment's schedules`,
      async (c) => {
        const d = await store.setScheduleActiveForDeployment(param(c, "id"), active);
        return c.json(await after(d.id));
      },
    );
  }

  r.route(
    "delete",
    "/api/deployments/:id/schedules/:schedule",
    "Delete one schedule (its unstarted runs go too)",
    async (c) => {
      const d = await store.getDeployment(param(c, "id"));
      await store.deleteSchedules(d.id, param(c, "schedule"));
      return c.json(await after(d.id));
    },
  );

  r.route("delete", "/api/deployments/:id/schedules", "Delete all of a deployment's schedules", async (c) => {
    const d = await store.getDeployment(param(c, "id"));
    await store.deleteSchedules(d.id);
    return c.json(await after(d.id));
  });
}
