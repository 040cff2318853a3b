import { WeirError } from "../model/index.ts";
import type { Caller, Scope } from "./tokens.ts";

/**
 * Who may call a route: `public` anyone; `read` any token; `deploy` admin and deploy tokens;
 * `agent` admin, agent and run tokens (bound to their pool or run); `report` (a run's states, logs
 * and task runs) those and deploy tokens too, which run flows locally with `weir run`; `start`
 * (creating a run) admin and deploy tokens, and run tokens for subflow runs of their own run;
 * `admin` admin tokens only.
 */
export type Access = "public" | "read" | "deploy" | "start" | "agent" | "report" | "admin";

/**
 * The access of every API route, by method and path as registered. The router refuses to register
 * a route missing here, so a new route cannot be forgotten (tests/api/auth.test.ts walks them all).
 */
export const ROUTE_ACCESS: Record<string, Access> = {
  "GET /api/health": "public",
  "GET /api/ready": "public",
  "GET /api/whoami": "read",
  // flows, runs, logs, task runs
  "GET /api/flows": "read",
  "POST /api/flow-runs": "start",
  "GET /api/flow-runs": "read",
  "GET /api/flow-runs/:id": "read",
  "GET /api/flow-runs/:id/states": "read",
  "GET /api/flow-runs/:id/wait": "read",
  "GET /api/flow-runs/:id/result": "read",
  "POST /api/flow-runs/:id/set_state": "report",
  "POST /api/flow-runs/:id/retry": "deploy",
  "POST /api/flow-runs/:id/cancel": "deploy",
  "GET /api/flow-runs/:id/logs": "read",
  "GET /api/flow-runs/:id/task-runs": "read",
  "POST /api/logs": "report",
  "POST /api/task-runs/snapshots": "report",
  "GET /api/flow-runs/:id/execution": "report",
  "POST /api/task-runs": "report",
  "POST /api/task-runs/:id/set_state": "report",
  // deployments and schedules
  "PUT /api/deployments": "deploy",
  "GET /api/deployments": "read",
  "GET /api/deployments/:id": "read",
  "PATCH /api/deployments/:id": "deploy",
  "GET /api/deployments/name/:flow/:name": "read",
  "DELETE /api/deployments/:id": "deploy",
  "POST /api/deployments/:id/pause": "deploy",
  "POST /api/deployments/:id/resume": "deploy",
  "POST /api/deployments/:id/runs": "start",
  "GET /api/deployments/:id/schedules": "read",
  "POST /api/deployments/:id/schedules": "deploy",
  "PUT /api/deployments/:id/schedules": "deploy",
  "POST /api/deployments/:id/schedules/:schedule/pause": "deploy",
  "POST /api/deployments/:id/schedules/:schedule/resume": "deploy",
  "DELETE /api/deployments/:id/schedules/:schedule": "deploy",
  "DELETE /api/deployments/:id/schedules": "deploy",
  "POST /api/deployments/:id/pause-schedule": "deploy",
  "POST /api/deployments/:id/resume-schedule": "deploy",
  // work pools, queues, limits, agents
  "POST /api/work-pools": "admin",
  "PATCH /api/work-pools/:name": "admin",
  "GET /api/work-pools": "read",
  "GET /api/work-pools/:name": "read",
  "GET /api/work-pool-types/:type/base-job-template": "read",
  "DELETE /api/work-pools/:name": "admin",
  "POST /api/work-pools/:name/pause": "admin",
  "POST /api/work-pools/:name/resume": "admin",
  "POST /api/work-pools/:name/queues": "admin",
  "PATCH /api/work-pools/:name/queues/:queue": "admin",
  "DELETE /api/work-pools/:name/queues/:queue": "admin",
  "GET /api/concurrency-limits": "read",
  "GET /api/concurrency-limits/:tag": "read",
  "PUT /api/concurrency-limits/:tag": "admin",
  "DELETE /api/concurrency-limits/:tag": "admin",
  "POST /api/work-pools/:name/claim": "agent",
  "POST /api/agents/heartbeat": "agent",
  "GET /api/agents": "read",
  // blocks and variables (secret values: see blocks.ts)
  "GET /api/block-types": "read",
  "POST /api/blocks": "admin",
  "GET /api/blocks": "read",
  "GET /api/blocks/:type/:name": "read",
  "PATCH /api/blocks/:type/:name": "admin",
  "DELETE /api/blocks/:type/:name": "admin",
  "GET /api/variables": "read",
  "GET /api/variables/:name": "read",
  "PUT /api/variables/:name": "admin",
  "DELETE /api/variables/:name": "admin",
  // tokens
  "POST /api/tokens": "admin",
  "GET /api/tokens": "admin",
  "POST /api/tokens/:name/revoke": "admin",
};

const ALLOWED: Record<Access, readonly Scope[]> = {
  public: ["admin", "deploy", "agent", "read", "run"],
  read: ["admin", "deploy", "agent", "read", "run"],
  deploy: ["admin", "deploy"],
  start: ["admin", "deploy", "run"],
  agent: ["admin", "agent", "run"],
  report: ["admin", "deploy", "agent", "run"],
  admin: ["admin"],
};

export function accessOf(method: string, path: string): Access {
  const access = ROUTE_ACCESS[`${method.toUpperCase()} ${path}`];
  if (!access)
    throw new Error(
      `route ${method.toUpperCase()} ${path} has no entry in ROUTE_ACCESS (core/auth/access.ts)`,
    );
  return access;
}

const needs = (access: Access) =>
  access === "agent"
    ? "an agent"
    : access === "report"
      ? "an agent or deploy"
      : access === "admin"
        ? "an admin"
        : access === "start"
          ? "a deploy"
          : `a ${access}`;

/** Refuses (403) a caller whose scope the route does not allow. */
export function requireAccess(caller: Caller, access: Access, what: string): void {
  if (ALLOWED[access].includes(caller.scope)) return;
  throw forbidden(
    `${caller.scope === "admin" || caller.scope === "agent" ? "an" : "a"} ${caller.scope} token may not ${what} (it needs ${needs(access)} token; create one with: weir token create NAME --scope ${access === "report" ? "agent" : access === "start" ? "deploy" : access})`,
  );
}

/** The reads a run's own token may make besides its run's own records (`/api/flow-runs/:id...`). */
const RUN_READS = new Set([
  "/api/health",
  "/api/deployments/:id",
  "/api/deployments/name/:flow/:name",
  "/api/block-types",
  "/api/blocks/:type/:name",
  "/api/variables",
  "/api/variables/:name",
  "/api/work-pools/:name",
]);

/**
 * A run token reads its own run (and the subflow runs below it: `ancestors` are the runs above
 * `id`) and what its steps resolve, nothing else.
 */
export function requireRunRead(
  caller: Caller,
  path: string,
  id: string | undefined,
  ancestors: readonly string[] = [],
): void {
  if (caller.scope !== "run") return;
  if (path.startsWith("/api/flow-runs/:id")) {
    if (id !== caller.flowRunId && !ancestors.includes(caller.flowRunId ?? ""))
      throw forbidden(`this run's token is for flow run ${caller.flowRunId}, not ${id}`);
    return;
  }
  if (!RUN_READS.has(path))
    throw forbidden(`a run's token may not call GET ${path} (only its own run's records)`);
}

/** Whether the caller may see secret values (?include_secrets=true): not read tokens. */
export function maySeeSecrets(caller: Caller): boolean {
  return caller.scope !== "read";
}

/**
 * An agent token bound to a pool, or a run token, acting on a run: it must be theirs (for a run
 * token: its run or a subflow run below it; `ancestors` are the runs above `run`).
 */
export function requireRun(
  caller: Caller,
  run: { id: string; work_pool_name: string | null },
  ancestors: readonly string[] = [],
): void {
  if (caller.scope === "run" && caller.flowRunId !== run.id && !ancestors.includes(caller.flowRunId ?? ""))
    throw forbidden(`this run's token is for flow run ${caller.flowRunId}, not ${run.id}`);
  if (caller.scope === "agent" && caller.pool && caller.pool !== run.work_pool_name)
    throw forbidden(
      `this agent token is for work pool "${caller.pool}"; flow run ${run.id} belongs to "${run.work_pool_name ?? "(none)"}"`,
    );
}

/** An agent token bound to a pool acting on a pool. */
export function requirePool(caller: Caller, pool: string): void {
  if (caller.scope === "run") throw forbidden("a run's token may not claim runs or heartbeat as an agent");
  if (caller.scope === "agent" && caller.pool && caller.pool !== pool)
    throw forbidden(`this agent token is for work pool "${caller.pool}", not "${pool}"`);
}

export function forbidden(message: string): WeirError {
  return new WeirError("FORBIDDEN", message);
}
