import type * as v from "valibot";
import { assertDeployable, compileSchedule, scheduleSpec } from "../../schedules/index.ts";
import * as q from "../../store/index.ts";
import type { ApiContext } from "../context.ts";
import type { Router } from "../router.ts";
import { ReplaceSchedulesBody, ScheduleBody } from "../schemas.ts";
import { param, readBody } from "../validate.ts";

/** Checks a schedule body and returns it with its canonical spec. */
export function scheduleInput(body: v.InferOutput<typeof ScheduleBody>, where: string): q.ScheduleInput {
  const compiled = compileSchedule(body.schedule, where);
  assertDeployable(compiled, where);
  return {
    schedule: scheduleSpec(compiled),
    active: body.active,
    parameters: body.parameters,
    slug: body.slug ?? null,
  };
}

export function scheduleRoutes(r: Router, ctx: ApiContext): void {
  const db = ctx.store.db;
  const after = async (deploymentId: string) => {
    await ctx.scheduleNow?.([deploymentId]);
    return q.getDeployment(db, deploymentId);
  };

  r.route("get", "/api/deployments/:id/schedules", "A deployment's schedules", async (c) =>
    c.json((await q.getDeployment(db, param(c, "id"))).schedules),
  );

  r.route(
    "post",
    "/api/deployments/:id/schedules",
    "Add a schedule to a deployment",
    async (c) => {
      const d = await q.getDeployment(db, param(c, "id"));
      const created = await q.createSchedule(
        db,
        d.id,
        scheduleInput(await readBody(c, ScheduleBody), "schedule"),
      );
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
      const d = await q.getDeployment(db, param(c, "id"));
      const body = await readBody(c, ReplaceSchedulesBody);
      const inputs = body.schedules.map((s, i) => scheduleInput(s, `schedules[${i}]`));
      await db.transaction((tx) => q.replaceSchedules(tx, d.id, inputs));
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
        const d = await q.getDeployment(db, param(c, "id"));
        const s = await q.setScheduleActive(db, d.id, param(c, "schedule"), active);
        await after(d.id);
        return c.json(s);
      },
    );
    r.route(
      "post",
      `/api/deployments/:id/${verb}-schedule`,
      `${verb === "pause" ? "Switch off" : "Switch on"} all of a deployment's schedules`,
      async (c) => {
        const d = await q.setScheduleActiveForDeployment(db, param(c, "id"), active);
        return c.json(await after(d.id));
      },
    );
  }

  r.route(
    "delete",
    "/api/deployments/:id/schedules/:schedule",
    "Delete one schedule (its unstarted runs go too)",
    async (c) => {
      const d = await q.getDeployment(db, param(c, "id"));
      await q.deleteSchedules(db, d.id, param(c, "schedule"));
      return c.json(await after(d.id));
    },
  );

  r.route("delete", "/api/deployments/:id/schedules", "Delete all of a deployment's schedules", async (c) => {
    const d = await q.getDeployment(db, param(c, "id"));
    await q.deleteSchedules(db, d.id);
    return c.json(await after(d.id));
  });
}
