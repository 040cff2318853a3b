import { type Context, Hono } from "hono";
import { type Caller, OPEN_CALLER } from "../auth/index.ts";
import { DEFAULT_LIMITS, LIMIT_SETTINGS } from "../config/index.ts";
import { WeirError } from "../model/index.ts";
import { DateExpander } from "../schedules/index.ts";
import { createRegistry } from "../steps/index.ts";
import { FlowRunWriter } from "../store/index.ts";
import { bodyLimit } from "./body-limit.ts";
import { callerOf } from "./callers.ts";
import type { ApiContext, ReadyContext } from "./context.ts";
import { Router } from "./router.ts";
import { blockRoutes } from "./routes/blocks.ts";
import { deploymentRoutes } from "./routes/deployments.ts";
import { flowRunRoutes } from "./routes/flow-runs.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { variableRoutes } from "./routes/variables.ts";
import { workPoolRoutes } from "./routes/work-pools.ts";
import { bodySchemas } from "./schemas.ts";

const STATUS: Record<WeirError["code"], 400 | 401 | 403 | 404 | 409 | 415 | 422 | 429 | 500 | 503> = {
  BUSY: 503,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  UNSUPPORTED: 415,
  RATE_LIMITED: 429,
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
  // The database answers but refuses this server's connections: a changed password, pg_hba,
  // a dropped database, too many connections. As much an outage for the request as a restart.
  const refused = /\b(28000|28P01|3D000|53300|57P04)\b/.test(code);
  if (refused)
    return new WeirError(
      "UNREACHABLE",
      "The database refuses this server's connections right now (the server's log says why); try again once it is fixed",
    );
  return connection
    ? new WeirError("UNREACHABLE", "The database cannot be reached right now; try again in a few seconds")
    : null;
}

/**
 * Two servers' transactions met in a deadlock or a serialization failure (PostgreSQL's 40P01,
 * 40001): nothing of this request was written, and it succeeds when sent again. 503, not a 500.
 */
function databaseClash(err: unknown): WeirError | null {
  const e = err as {
    code?: string;
    errno?: string;
    message?: string;
    cause?: { code?: string; errno?: string; message?: string };
  };
  const text = `${e?.code ?? ""} ${e?.errno ?? ""} ${e?.cause?.code ?? ""} ${e?.cause?.errno ?? ""} ${e?.message ?? ""} ${e?.cause?.message ?? ""}`;
  return /\b(40P01|40001)\b|deadlock detected|could not serialize access/i.test(text)
    ? new WeirError(
        "BUSY",
        "The database stopped this change because another server changed the same rows at once (nothing was written); send it again",
      )
    : null;
}

/**
 * The database's disk is full (SQLite's SQLITE_FULL, PostgreSQL's 53100): nothing was written,
 * and the request may be tried again once there is room. A 503 saying so, not an internal error.
 */
export function databaseFull(err: unknown): WeirError | null {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const text = `${e?.code ?? ""} ${e?.cause?.code ?? ""} ${e?.message ?? ""} ${e?.cause?.message ?? ""}`;
  return /SQLITE_FULL|\b53100\b|database or disk is full|could not extend file|No space left on device/i.test(
    text,
  )
    ? new WeirError(
        "UNREACHABLE",
        "The database's disk is full: nothing was written; free space where the database is, then try again",
      )
    : null;
}

/** API paths anyone may read, with auth on too: liveness, readiness and the API's description. */
const PUBLIC_PATHS = new Set(["/api", "/api/", "/api/health", "/api/ready", "/api/openapi.json"]);

/** Names an open (loopback) server answers to; host.docker.internal is how containers reach it. */
export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]", "::1", "host.docker.internal"];

/** The address a request came from (rate limiting of failed logins). */
export function clientAddress(c: Context): string {
  const server = c.env as { requestIP?(r: Request): { address: string } | null } | undefined;
  return server?.requestIP?.(c.req.raw)?.address ?? "local";
}

/**
 * Refuses what a web page the user visits could make a browser send to this server: writes to
 * the API whose content type is not JSON (a form, or a fetch without a preflight), any request
 * whose Origin is another site, and requests addressed to a host name the server does not answer
 * to (DNS rebinding). No CORS headers are ever sent, so browsers refuse the preflights JSON
 * writes from other sites need.
 */
function browserGuard(ctx: ReadyContext) {
  const allowed = ctx.allowedHosts === undefined ? LOOPBACK_HOSTS : ctx.allowedHosts;
  return async (c: Context, next: () => Promise<void>) => {
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (allowed && host) {
      const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!;
      if (!allowed.includes(name.toLowerCase()))
        throw new WeirError(
          "FORBIDDEN",
          `This server answers to ${allowed.filter((h) => h !== "::1").join(", ")}, not "${name}" (requests addressed to another name are refused: DNS rebinding)`,
        );
    }
    const origin = c.req.header("origin");
    if (origin && origin !== "null") {
      let originHost: string | null = null;
      try {
        originHost = new URL(origin).host;
      } catch {}
      if (originHost !== host) throw new WeirError("FORBIDDEN", `Cross-site request from ${origin} refused`);
    } else if (origin === "null" || c.req.header("sec-fetch-site") === "cross-site") {
      throw new WeirError("FORBIDDEN", "Cross-site request refused");
    }
    const method = c.req.method;
    if (c.req.path.startsWith("/api/") && method !== "GET" && method !== "HEAD" && method !== "OPTIONS") {
      const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== "application/json")
        throw new WeirError(
          "UNSUPPORTED",
          `API writes must be sent with content-type application/json${type ? ` (got ${type})` : ""}`,
        );
    }
    await next();
  };
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
  const app = new Hono<{ Variables: { requestId: string; caller: Caller } }>();
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
  // Before anything else: requests a browser could be tricked into sending (see browserGuard).
  app.use(browserGuard(ctx));
  // Who is calling: every /api route but PUBLIC_PATHS needs a token when auth is on.
  app.use("/api/*", async (c, next) => {
    const auth = ctx.auth;
    // The UI calls the API in this process as its signed-in browser's caller (ui/session.ts): the
    // caller rides in the request's environment, which no network request can set.
    const fromUi = (c.env as { weirUiCaller?: Caller } | undefined)?.weirUiCaller;
    if (fromUi) c.set("caller", fromUi);
    else if (!auth || PUBLIC_PATHS.has(c.req.path)) c.set("caller", OPEN_CALLER);
    else c.set("caller", await auth.caller(c.req.header("authorization"), clientAddress(c)));
    await next();
  });
  const router = new Router(app as unknown as Hono, "meta", (id) => ctx.store.ancestorRunIds(id));

  router.route("get", "/api/health", "Liveness and version", (c) =>
    c.json({ status: "ok", version: ctx.version }),
  );
  // For a load balancer: 503 (with the reason) while this server cannot use its database.
  router.route("get", "/api/ready", "Readiness: 200 while the database answers, else 503", async (c) => {
    await ctx.store.listAgents(undefined, { limit: 1 });
    return c.json({ status: "ready", version: ctx.version });
  });
  // What the caller's token may do, so a client can say so before it starts work it could not
  // finish (weir deploy checks it before running build and push steps).
  router.route("get", "/api/whoami", "The caller's token: its name, scope, pool or run", (c) => {
    const caller = callerOf(c);
    return c.json({
      name: caller.name,
      scope: caller.scope,
      work_pool_name: caller.pool,
      flow_run_id: caller.flowRunId,
    });
  });
  deploymentRoutes(router.for("deployments"), ctx);
  flowRunRoutes(router.for("flow runs"), ctx);
  workPoolRoutes(router.for("work pools"), ctx);
  scheduleRoutes(router.for("schedules"), ctx);
  blockRoutes(router.for("blocks"), ctx);
  variableRoutes(router.for("variables"), ctx);
  tokenRoutes(router.for("tokens"), ctx);
  const doc = router.openapi(ctx.version);
  // The API's description is public, as Prefect's is: it holds routes and shapes, no data. The
  // address the server prints (/api) leads to it.
  app.get("/api/openapi.json", (c) => c.json(doc));
  app.get("/api", (c) => c.redirect("/api/openapi.json", 302));
  app.get("/api/", (c) => c.redirect("/api/openapi.json", 302));

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
    const err =
      raw instanceof WeirError
        ? raw
        : (constraintError(raw) ?? databaseDown(raw) ?? databaseClash(raw) ?? databaseFull(raw) ?? raw);
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
