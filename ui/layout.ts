import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

// One stylesheet, inline (no CDN, works air-gapped): light by default, dark when the system is,
// readable on a phone (tables scroll sideways inside their box, forms stack).
const CSS = `
:root{color-scheme:light dark;--bg:#f6f8fa;--fg:#1f2328;--mute:#59636e;--line:#d1d9e0;--card:#fff;--acc:#0969da;--accfg:#fff;--err:#cf222e;
--ok:#1a7f37;--okfg:#fff;--bad:#cf222e;--run:#0969da;--wait:#6e7781;--warn:#9a6700;--focus:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0f1419;--fg:#e6edf3;--mute:#9198a1;--line:#30363d;--card:#161b22;--acc:#4f9cf9;--accfg:#0f1419;--err:#ff7b72;
--ok:#238636;--bad:#b62324;--run:#1f6feb;--wait:#484f58;--warn:#9e6a03;--focus:#4f9cf9}}
*{box-sizing:border-box}[hidden]{display:none!important}body{margin:0;font:15px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--acc)}:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.scope-read .act,.scope-agent .act,.scope-deploy .act.admin{display:none!important}.skip{position:absolute;left:-999px}.vh{position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap}.skip:focus{left:8px;top:8px;background:var(--card);padding:8px;z-index:9}
header{display:flex;flex-wrap:wrap;gap:4px 20px;align-items:center;padding:10px 20px;border-bottom:1px solid var(--line);background:var(--card)}
header nav{display:flex;flex-wrap:wrap;gap:4px 16px}header b a{font-size:18px;color:var(--fg);text-decoration:none}
header nav a{color:var(--fg);text-decoration:none;padding:4px 0}header nav a[aria-current=page]{border-bottom:2px solid var(--acc)}
main{padding:12px 20px 40px;max-width:1200px}h1{font-size:22px;margin:12px 0}h2{font-size:16px;margin:24px 0 8px}
.box{position:relative;overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}td,th{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
td{overflow-wrap:anywhere;min-width:4ch}h1,h2,dd{overflow-wrap:anywhere}select{max-width:100%}
tr:last-child td{border-bottom:0}th{color:var(--mute);font-weight:600}
code,pre{font:13px/1.5 ui-monospace,monospace}pre{margin:0;padding:10px 12px;overflow:auto;white-space:pre-wrap;word-break:break-word}
.s{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;white-space:nowrap;color:#fff}
.COMPLETED{background:var(--ok)}.FAILED,.CRASHED{background:var(--bad)}.RUNNING{background:var(--run)}
.SCHEDULED,.PENDING{background:var(--wait)}.CANCELLED,.CANCELLING,.PAUSED{background:var(--warn)}
.ONLINE{background:var(--ok)}.OFFLINE{background:var(--wait)}.mute{color:var(--mute)}
form.filters{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:end;margin:8px 0 12px}
form.filters label{display:flex;flex-direction:column;font-size:13px;color:var(--mute);min-width:0;max-width:100%}
input,select,textarea,button{font:inherit;color:inherit;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:5px 8px}
textarea{width:100%;min-height:5em;font:13px/1.4 ui-monospace,monospace}
button,.button{cursor:pointer;background:var(--acc);color:var(--accfg);border-color:var(--acc);text-decoration:none;display:inline-block;padding:5px 12px;border-radius:6px}
button.quiet,.button.quiet{background:transparent;color:var(--acc)}button.danger{background:var(--bad);border-color:var(--bad);color:#fff}
form.inline{display:inline}.actions{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.field{margin:0 0 14px}.field label{display:block;font-weight:600}.field .hint{color:var(--mute);font-size:13px}
.field input:not([type=checkbox]),.field select{width:100%;max-width:480px}
.error{color:var(--err);font-size:14px;margin:2px 0}[role=alert]{border:1px solid var(--err);color:var(--err);padding:8px 12px;border-radius:6px;background:var(--card)}
.notice{border:1px solid var(--ok);padding:8px 12px;border-radius:6px;background:var(--card)}
ol.timeline{list-style:none;padding:0;margin:0}ol.timeline li{padding:4px 10px;border-bottom:1px solid var(--line)}
.pager{display:flex;gap:12px;margin:10px 0}dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0;padding:10px 12px}
dl.kv dt{color:var(--mute)}dl.kv dd{margin:0;word-break:break-word}
@media (max-width:640px){main{padding:8px 10px 30px}dl.kv{grid-template-columns:1fr}dl.kv dt{margin-top:6px}}
`;

const NAV: [string, string][] = [
  ["/", "Runs"],
  ["/deployments", "Deployments"],
  ["/work-pools", "Work pools"],
  ["/blocks", "Blocks"],
  ["/variables", "Variables"],
];

export interface PageOptions {
  /** The nav entry to mark as current. */
  nav?: string;
  /** A message shown at the top (after an action). */
  notice?: string | null;
  /** An error shown at the top. */
  problem?: string | null;
  /** Scripts of the page (progressive enhancement: the page works without them). */
  script?: string;
  /** The sign-out form's CSRF token when signed in. */
  logout?: string | null;
  /** Who is signed in, and with which scope: actions the scope cannot take are not offered. */
  who?: { name: string; scope: string } | null;
}

export function page(title: string, body: Html, o: PageOptions = {}): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark"><link rel="icon" href="data:,">
<title>${title} · Weir</title><style>${raw(CSS)}</style></head>
<body class="scope-${o.who?.scope ?? "admin"}"><a class="skip" href="#main">Skip to content</a>
<header><b><a href="/">Weir</a></b><nav aria-label="Main">${NAV.map(
    ([href, label]) =>
      html`<a href="${href}"${o.nav === href ? raw(' aria-current="page"') : ""}>${label}</a>`,
  )}<a href="/api/openapi.json">API</a></nav>
${o.who ? html`<span class="mute who">${o.who.name} (${o.who.scope} token)</span>` : ""}${
  o.logout
    ? html`<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="${o.logout}"><button class="quiet" type="submit">Sign out</button></form>`
    : ""
}</header>
<main id="main">${o.who && o.who.scope !== "admin" ? html`<p class="mute">${SCOPE_NOTE[o.who.scope] ?? ""}</p>` : ""}${
    o.notice ? html`<p class="notice" role="status">${o.notice}</p>` : ""
  }${
    o.problem ? html`<p role="alert">${o.problem}</p>` : ""
  }${body}</main>${o.script ? html`<script>${raw(o.script)}</script>` : ""}</body></html>`;
}

export const stateBadge = (type: string, name: string) => html`<span class="s ${type}">${name}</span>`;

export const when = (iso: string | null | undefined) =>
  iso ? `${iso.replace("T", " ").slice(0, 19)} UTC` : "–";

export const json = (value: unknown) => JSON.stringify(value ?? null, null, 2);

export const seconds = (ms: number | null | undefined) => (ms ? `${(ms / 1000).toFixed(2)} s` : "–");

/** A hidden CSRF field for a form that changes something. */
export const csrfField = (token: string) => html`<input type="hidden" name="csrf" value="${token}">`;

/** A one-button form posting to `action` (an action on a run, a schedule, a pool...). */
/** What a signed-in token short of admin can do here (its actions are not offered). */
const SCOPE_NOTE: Record<string, string> = {
  read: "Signed in with a read token: it sees everything but secrets and changes nothing (actions need a deploy or admin token).",
  agent:
    "Signed in with an agent token: it sees everything but secrets and changes nothing here (actions need a deploy or admin token).",
  deploy: "Signed in with a deploy token: work pools, blocks and variables are changed with an admin token.",
};

export function postButton(
  action: string,
  label: string | Html,
  csrf: string,
  o: {
    danger?: boolean;
    quiet?: boolean;
    hidden?: boolean;
    id?: string;
    confirm?: string;
    /** Only an admin token may do it (a deploy token is not offered it). */
    admin?: boolean;
  } = {},
): Html {
  return html`<form method="post" action="${action}" class="inline act${o.admin ? " admin" : ""}"${o.id ? raw(` id="${o.id}"`) : ""}${
    o.hidden ? raw(" hidden") : ""
  }${o.confirm ? html` data-confirm="${o.confirm}"` : ""}>${csrfField(csrf)}<button type="submit"${
    o.danger ? raw(' class="danger"') : o.quiet ? raw(' class="quiet"') : ""
  }>${label}</button></form>`;
}

/** Asks before a form marked data-confirm is sent (the form still works without scripts). */
export const CONFIRM_SCRIPT = `document.addEventListener("submit",e=>{const m=e.target.dataset&&e.target.dataset.confirm;if(m&&!confirm(m))e.preventDefault()});`;
