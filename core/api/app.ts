import { Hono } from "hono";
import { WeirError } from "../model/index.ts";
import { FlowRunWriter } from "../store/index.ts";
import type { ApiContext } from "./context.ts";
import { Router } from "./router.ts";
import { blockRoutes } from "./routes/blocks.ts";
import { deploymentRoutes } from "./routes/deployments.ts";
import { flowRunRoutes } from "./routes/flow-runs.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { variableRoutes } from "./routes/variables.ts";
import { workPoolRoutes } from "./routes/work-pools.ts";

const STATUS: Record<WeirError["code"], 400 | 404 | 409 | 422 | 500 | 503> = {
  USAGE: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID: 422,
  FAILED: 500,
  UNREACHABLE: 503,
};

export interface AppOptions {
  /** Adds pages outside /api (the UI); kept out of core so the API runs without it. */
  extend?: (app: Hono, ctx: ApiContext) => void;
  /** Where unexpected errors are reported (their details never reach the client). */
  onInternalError?: (err: unknown) => void;
}

export function createApp(ctx: ApiContext, options: AppOptions = {}): Hono {
  ctx.runWriter ??= new FlowRunWriter(ctx.store.db);
  const app = new Hono();
  const router = new Router(app, "meta");

  router.route("get", "/api/health", "Liveness and version", (c) =>
    c.json({ status: "ok", version: ctx.version }),
  );
  deploymentRoutes(router.for("deployments"), ctx);
  flowRunRoutes(router.for("flow runs"), ctx);
  workPoolRoutes(router.for("work pools"), ctx);
  scheduleRoutes(router.for("schedules"), ctx);
  blockRoutes(router.for("blocks"), ctx);
  variableRoutes(router.for("variables"), ctx);
  const doc = router.openapi(ctx.version);
  app.get("/api/openapi.json", (c) => c.json(doc));

  options.extend?.(app, ctx);

  app.notFound((c) =>
    c.json(
      {
        error: {
          code: "NOT_FOUND",
          message: `No route ${c.req.method} ${new URL(c.req.url).pathname} (see /api/openapi.json)`,
        },
      },
      404,
    ),
  );
  app.onError((err, c) => {
    if (err instanceof WeirError) {
      return c.json(
        { error: { code: err.code, message: err.message, fields: err.fields } },
        STATUS[err.code],
      );
    }
    options.onInternalError?.(err);
    return c.json(
      { error: { code: "INTERNAL", message: "Internal server error (see the server's log)" } },
      500,
    );
  });
  return app;
}
