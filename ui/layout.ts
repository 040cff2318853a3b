import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const CSS = `
:root{--bg:#0f1419;--fg:#e6e6e6;--mute:#8b949e;--line:#2d333b;--card:#161b22;--acc:#4f9cf9}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;gap:24px;align-items:center;padding:12px 24px;border-bottom:1px solid var(--line)}
header b{font-size:18px}header a{color:var(--fg);text-decoration:none}main{padding:16px 24px;max-width:1200px}
h2{font-size:15px;margin:24px 0 8px;color:var(--mute);text-transform:uppercase;letter-spacing:.05em}
table{border-collapse:collapse;width:100%;background:var(--card)}td,th{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{color:var(--mute);font-weight:500}a{color:var(--acc)}code,pre{font:12px/1.5 ui-monospace,monospace}
pre{background:var(--card);padding:12px;overflow:auto;border:1px solid var(--line)}
.s{padding:1px 8px;border-radius:10px;font-size:12px;white-space:nowrap}
.COMPLETED{background:#1f6f3f}.FAILED,.CRASHED{background:#8b1e1e}.RUNNING{background:#1d4f91}
.SCHEDULED,.PENDING{background:#3d444d}.CANCELLED,.CANCELLING,.PAUSED{background:#7a5b00}.mute{color:var(--mute)}
`;

export function page(title: string, body: Html, refreshSeconds?: number): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
${refreshSeconds ? raw(`<meta http-equiv="refresh" content="${refreshSeconds}">`) : ""}
<title>${title} · Weir</title><style>${raw(CSS)}</style></head>
<body><header><b><a href="/">Weir</a></b><a href="/">Runs</a><a href="/deployments">Deployments</a><a href="/work-pools">Work pools</a><a href="/api/openapi.json">API</a></header>
<main>${body}</main></body></html>`;
}

export const stateBadge = (type: string, name: string) => html`<span class="s ${type}">${name}</span>`;

export const when = (iso: string | null) => (iso ? iso.replace("T", " ").slice(0, 19) : "–");
