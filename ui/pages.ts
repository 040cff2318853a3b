import type { Hono } from "hono";
import { html } from "hono/html";
import type { ApiContext } from "../core/api/index.ts";
import { blockPages } from "./blocks.ts";
import { deploymentPages } from "./deployments.ts";
import { page } from "./layout.ts";
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
  // Pages say they have no icon (data:,); a browser that asks anyway gets nothing, not a 404.
  app.get("/favicon.ico", (c) => c.body(null, 204));
  uiLogin(app, ctx);
  runPages(app, ctx);
  deploymentPages(app, ctx);
  poolPages(app, ctx);
  blockPages(app, ctx);
  // Last: a page address that matches none of the above gets a page, not the API's JSON 404.
  app.get("*", (c, next) => {
    if (new URL(c.req.url).pathname.startsWith("/api/")) return next();
    return c.html(
      page(
        "Not found",
        html`<h1>Page not found</h1><p>Weir has no page at ${new URL(c.req.url).pathname}. The pages are listed above; <a href="/">flow runs</a> is the first.</p>`,
      ),
      404,
    );
  });
}
