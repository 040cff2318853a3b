import type { Hono } from "hono";
import type { ApiContext } from "../core/api/index.ts";
import { blockPages } from "./blocks.ts";
import { deploymentPages } from "./deployments.ts";
import { uiLogin } from "./login.ts";
import { poolPages } from "./pools.ts";
import { runPages } from "./runs.ts";

/**
 * The web UI, rendered by the server (no build, no CDN, works without scripts): runs, deployments,
 * work pools, blocks and variables. Reads come from the store or the API; every change is a form
 * posted here (with a CSRF token) that calls the API in this process as the signed-in caller, so
 * the UI has no rules of its own.
 */
export function uiRoutes(app: Hono, ctx: ApiContext): void {
  uiLogin(app, ctx);
  runPages(app, ctx);
  deploymentPages(app, ctx);
  poolPages(app, ctx);
  blockPages(app, ctx);
}
