import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { html } from "hono/html";
import { type ApiContext, clientAddress } from "../core/api/index.ts";
import { page } from "./layout.ts";

const SESSION = "weir_session";
const LOGIN_CSRF = "weir_login_csrf";

/**
 * With auth on, the UI's pages need a signed-in browser: an API token entered once on /login
 * becomes a session cookie (HttpOnly, SameSite=Strict, Secure over TLS); the token itself is
 * never stored in the browser. The login and logout forms carry CSRF tokens.
 */
export function uiLogin(app: Hono, ctx: ApiContext): void {
  const auth = ctx.auth;
  if (!auth) return;
  const cookie = { httpOnly: true, sameSite: "Strict" as const, secure: ctx.tls === true, path: "/" };

  const form = (c: Context, problem?: string, next = nextPage(c.req.query("next"))) => {
    // One sign-in form per browser: a request the browser makes on its own meanwhile (its icon,
    // another tab) is sent here too, and must not make the form on screen stale.
    const held = getCookie(c, LOGIN_CSRF);
    const csrf =
      held && /^[\w-]{32}$/.test(held)
        ? held
        : Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
    setCookie(c, LOGIN_CSRF, csrf, { ...cookie, maxAge: 600 });
    return c.html(
      page(
        "Sign in",
        html`<h2>Sign in</h2>
        ${problem ? html`<p role="alert">${problem}</p>` : ""}
        <form method="post" action="/login">
          <input type="hidden" name="csrf" value="${csrf}">
          ${next !== "/" ? html`<input type="hidden" name="next" value="${next}">` : ""}
          <p><label for="token">API token</label><br>
          <input id="token" name="token" type="password" autocomplete="current-password" required size="50"></p>
          <p><button type="submit">Sign in with this token</button></p>
        </form>
        <p class="mute">Any API token but a flow run's own; what you can do follows its scope. The server's first start wrote an admin token to $WEIR_HOME/admin-token.</p>`,
      ),
      problem ? 401 : 200,
    );
  };

  app.get("/login", (c) => form(c));
  app.post("/login", async (c) => {
    const body = await c.req.parseBody();
    const expected = getCookie(c, LOGIN_CSRF);
    const next = nextPage(body.next);
    if (!expected || body.csrf !== expected) return form(c, "The form expired; sign in again.", next);
    const started = await auth
      .startSession(typeof body.token === "string" ? body.token.trim() : "", clientAddress(c))
      .catch(() => null);
    if (!started) return form(c, "That token is not valid (unknown, revoked or expired).", next);
    // A run's own token reads only its run: it does not sign in to pages that list everything.
    if (started.caller.scope === "run") {
      auth.endSession(started.id);
      return form(
        c,
        "A flow run's own token cannot sign in; use an admin, deploy, agent or read token.",
        next,
      );
    }
    deleteCookie(c, LOGIN_CSRF, cookie);
    setCookie(c, SESSION, started.id, { ...cookie, maxAge: 12 * 3600 });
    return c.redirect(next, 303);
  });
  app.post("/logout", async (c) => {
    const id = getCookie(c, SESSION);
    const body = await c.req.parseBody();
    const s = auth.session(id);
    if (s && body.csrf === s.csrf) auth.endSession(id);
    deleteCookie(c, SESSION, cookie);
    return c.redirect("/login", 303);
  });
  // Every other page (not the API, which takes tokens) needs a session.
  app.use(async (c, next) => {
    if (c.req.path.startsWith("/api/") || c.req.path === "/login") return next();
    // The browser's own request for an icon is no page to come back to after signing in.
    if (c.req.path === "/favicon.ico") return c.body(null, 204);
    if (!(await auth.activeSession(getCookie(c, SESSION)))) {
      // Back to the page asked for once signed in (a page read, not a form post).
      const url = new URL(c.req.url);
      const back = c.req.method === "GET" ? nextPage(url.pathname + url.search) : "/";
      return c.redirect(back === "/" ? "/login" : `/login?next=${encodeURIComponent(back)}`, 303);
    }
    return next();
  });
}

/** A page of this site to go to after signing in: a path here, never another site. */
function nextPage(value: unknown): string {
  // A path of this site only: one leading slash, no second slash or backslash after it, and no
  // control or space characters (browsers drop a tab or newline, so "/\t/x" would be "//x").
  return typeof value === "string" &&
    /^\/(?![/\\])/.test(value) &&
    !/[\u0000-\u0020\u007f\\]/.test(value) &&
    !value.startsWith("/login")
    ? value
    : "/";
}
