import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { ApiContext } from "../core/api/index.ts";
import { type Caller, OPEN_CALLER } from "../core/auth/index.ts";
import { WeirError } from "../core/model/index.ts";
import type { PageOptions } from "./layout.ts";

export const SESSION_COOKIE = "weir_session";
const OPEN_CSRF = "weir_csrf";

/** What a page handler needs: who the browser is, its CSRF token, and the API on its behalf. */
export interface Ui {
  caller: Caller;
  csrf: string;
  /** Signed in (auth on): the sign-out form shows. */
  signedIn: boolean;
  /** Calls the API in this process as this browser's caller: the same routes, rules and checks. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>>;
}

export interface ApiAnswer<T> {
  ok: boolean;
  status: number;
  data: T;
  /** The API's error message when not ok. */
  error: string;
}

/**
 * The browser's session: with auth on, the signed-in session (its caller and CSRF token); in open
 * mode the open caller and a CSRF token kept in a SameSite=Strict cookie (double submit).
 */
export async function uiOf(app: Hono, ctx: ApiContext, c: Context): Promise<Ui> {
  let caller: Caller = OPEN_CALLER;
  let csrf: string;
  let signedIn = false;
  const s = ctx.auth ? await ctx.auth.activeSession(getCookie(c, SESSION_COOKIE)) : null;
  // With auth on, nothing here runs without a valid session (the sign-in middleware redirects
  // first; this holds even if a route were reached without it).
  if (ctx.auth && (!s || s.caller.scope === "run"))
    throw new WeirError("UNAUTHORIZED", "Sign in first, at /login, with an API token");
  if (s) {
    caller = s.caller;
    csrf = s.csrf;
    signedIn = true;
  } else {
    csrf = getCookie(c, OPEN_CSRF) ?? "";
    if (!/^[\w-]{32}$/.test(csrf)) {
      csrf = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
      setCookie(c, OPEN_CSRF, csrf, {
        httpOnly: true,
        sameSite: "Strict",
        secure: ctx.tls === true,
        path: "/",
      });
    }
  }
  const api = async <T>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> => {
    const res = await app.request(
      path,
      {
        method,
        headers: {
          ...(method === "GET" ? {} : { "content-type": "application/json" }),
          host: c.req.header("host") ?? "localhost",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      // In-process only: the API's auth middleware takes this caller instead of a token.
      { weirUiCaller: caller },
    );
    const text = await res.text();
    let data: any = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    return {
      ok: res.ok,
      status: res.status,
      data: data as T,
      error: res.ok ? "" : (data?.error?.message ?? `${res.status} ${res.statusText}`),
    };
  };
  return { caller, csrf, signedIn, api };
}

/** Whether a form's CSRF field matches this browser's token. */
export async function formOf(c: Context, ui: Ui): Promise<Record<string, string> | null> {
  const body = await c.req.parseBody();
  if (typeof body.csrf !== "string" || body.csrf !== ui.csrf) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string") out[k] = v;
  return out;
}

const FLASH = "weir_flash";

/** Where to go after an action, with a message the next page shows once (a short-lived cookie). */
export function backTo(c: Context, path: string, message: string, problem = false): Response {
  setCookie(c, FLASH, encodeURIComponent(JSON.stringify({ message, problem })), {
    httpOnly: true,
    sameSite: "Strict",
    path: "/",
    maxAge: 60,
  });
  return c.redirect(path, 303);
}

/** The options every page shares: its nav entry, the message an action left, the sign-out form. */
export function chrome(
  c: Context,
  ui: Ui,
  nav: string | undefined,
  o: { problem?: string | null; script?: string } = {},
): PageOptions {
  const flash = flashOf(c);
  return {
    nav,
    notice: flash.notice,
    problem: o.problem ?? flash.problem,
    logout: ui.signedIn ? ui.csrf : null,
    who: ui.signedIn ? { name: ui.caller.name, scope: ui.caller.scope } : null,
    script: o.script,
  };
}

/** The message an action left for this page, once. */
export function flashOf(c: Context): { notice: string | null; problem: string | null } {
  const raw = getCookie(c, FLASH);
  if (!raw) return { notice: null, problem: null };
  deleteCookie(c, FLASH, { path: "/" });
  try {
    const f = JSON.parse(decodeURIComponent(raw)) as { message: string; problem: boolean };
    return f.problem
      ? { notice: null, problem: String(f.message) }
      : { notice: String(f.message), problem: null };
  } catch {
    return { notice: null, problem: null };
  }
}
