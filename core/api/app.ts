import { Hono } from "hono";
import { DEFAULT_LIMITS, LIMIT_SETTINGS } from "../config/index.ts";
import { WeirError } from "../model/index.ts";
import { DateExpander } from "../schedules/index.ts";
import { createRegistry } from "../steps/index.ts";
import { FlowRunWriter } from "../store/index.ts";
import { bodyLimit } from "./body-limit.ts";
import type { ApiContext, ReadyContext } from "./context.ts";
import { Router } from "./router.ts";
import { blockRoutes } from "./routes/blocks.ts";
import { deploymentRoutes } from "./routes/deployments.ts";
import { flowRunRoutes } from "./routes/flow-runs.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { variableRoutes } from "./routes/variables.ts";
import { workPoolRoutes } from "./routes/work-pools.ts";
import { bodySchemas } from "./schemas.ts";

const STATUS: Record<WeirError["code"], 400 | 404 | 409 | 422 | 500 | 503> = {
  BUSY: 503,
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
  /** Where unexpected errors are reported, with the request id the response names (their details never reach the client). */
  onInternalError?: (err: unknown, requestId: string) => void;
}

/** A database constraint the request broke: the client's mistake (409), never a 500. */
function constraintError(err: unknown): WeirError | null {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const text = `${e?.code ?? ""} ${e?.message ?? ""} ${e?.cause?.code ?? ""} ${e?.cause?.message ?? ""}`;
  if (/FOREIGNKEY|FOREIGN KEY/i.test(text))
    return new WeirError(
      "NOT_FOUND",
      "The request refers to something that does not exist (check the ids it names)",
    );
  if (/UNIQUE|PRIMARYKEY|PRIMARY KEY/i.test(text))
    return new WeirError(
      "CONFLICT",
      "The request clashes with something that already exists (a name or id is taken)",
    );
  return null;
}

/**
 * The database cannot be reached (a PostgreSQL restart, a network cut): the request may be tried
 * again shortly (503 with Retry-After), never a 500 and never a hang.
 */
export function databaseDown(err: unknown): WeirError | null {
  const e = err as {
    code?: string;
    errno?: string;
    message?: string;
    cause?: { code?: string; errno?: string; message?: string };
  };
  const code = `${e?.code ?? ""} ${e?.errno ?? ""} ${e?.cause?.code ?? ""} ${e?.cause?.errno ?? ""}`;
  const connection =
    /ERR_POSTGRES_(CONNECTION|IDLE|LIFETIME)|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|\b08\w{3}\b|\b57P0[1-3]\b/.test(
      code,
    ) ||
    /connection (closed|refused|terminated)|terminating connection|the database system is (starting|shutting) (up|down)/i.test(
      e?.message ?? "",
    );
  return connection
    ? new WeirError("UNREACHABLE", "The database cannot be reached right now; try again in a few seconds")
    : null;
}

export function createApp(input: ApiContext, options: AppOptions = {}): Hono {
  const limits = input.limits ?? DEFAULT_LIMITS;
  const ctx: ReadyContext = Object.assign(input, {
    limits,
    schemas: input.schemas ?? bodySchemas(limits),
    expander: input.expander ?? new DateExpander(limits.scheduleTimeBoxMs, 4),
    runWriter: input.runWriter ?? new FlowRunWriter(input.store),
    registry: input.registry ?? createRegistry([]),
  });
  const app = new Hono<{ Variables: { requestId: string } }>();
  // Every response carries a request id; a 500 names it, and the server's log line has it too.
  app.use(async (c, next) => {
    const id = Bun.randomUUIDv7();
    c.set("requestId", id);
    await next();
    c.header("X-Request-Id", id);
  });
  app.use(
    "/api/*",
    bodyLimit(limits.maxBodyBytes, limits.maxBodyBytes * 4, (c) =>
      c.json(
        {
          error: {
            code: "TOO_LARGE",
            message: `Request body is larger than ${limits.maxBodyBytes} bytes (${LIMIT_SETTINGS.maxBodyBytes} sets the limit)`,
          },
        },
        413,
      ),
    ),
  );
  const router = new Router(app as unknown as Hono, "meta");

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

  options.extend?.(app as unknown as Hono, ctx);

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
  app.onError((raw, c) => {
    const err = raw instanceof WeirError ? raw : (constraintError(raw) ?? databaseDown(raw) ?? raw);
    if (err instanceof WeirError) {
      if (err.code === "BUSY") c.header("Retry-After", "5");
      if (err.code === "UNREACHABLE") c.header("Retry-After", "2");
      return c.json(
        { error: { code: err.code, message: err.message, fields: err.fields } },
        STATUS[err.code],
      );
    }
    const requestId = c.get("requestId");
    options.onInternalError?.(err, requestId);
    return c.json(
      {
        error: {
          code: "INTERNAL",
          message: `Internal server error (request ${requestId}; the server's log has the details)`,
          request_id: requestId,
        },
      },
      500,
    );
  });
  return app as unknown as Hono;
}
