import type { Hono } from "hono";
import { html } from "hono/html";
import type { ApiContext } from "../core/api/index.ts";
import type { Agent, WorkPool } from "../core/model/index.ts";
import { page, postButton, when } from "./layout.ts";
import { backTo, chrome, formOf, uiOf } from "./session.ts";

/** Work pools with their queues and agents; pausing and resuming pools and queues. */
export function poolPages(app: Hono, ctx: ApiContext): void {
  app.get("/work-pools", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const [pools, agents] = await Promise.all([
      ui.api<WorkPool[]>("GET", "/api/work-pools?limit=1000"),
      ui.api<Agent[]>("GET", "/api/agents?limit=1000"),
    ]);
    const problem = pools.ok ? (agents.ok ? null : agents.error) : pools.error;
    const list = pools.ok ? pools.data : [];
    const seen = agents.ok ? agents.data : [];
    return c.html(
      page(
        "Work pools",
        html`<h1>Work pools</h1>
        ${list.length === 0 ? html`<p class="mute">No work pools yet: <code>weir work-pool create NAME</code>, or start an agent.</p>` : ""}
        ${list.map((p) => {
          const mine = seen.filter((a) => a.work_pool_name === p.name);
          const pool = encodeURIComponent(p.name);
          return html`<section aria-labelledby="pool-${p.id}"><h2 id="pool-${p.id}">${p.name} <span class="mute">(${p.type})</span>${
            p.is_paused ? html` <span class="s PAUSED">paused</span>` : ""
          }</h2>
          <div class="actions">${postButton(
            `/work-pools/${pool}/${p.is_paused ? "resume" : "pause"}`,
            html`${p.is_paused ? "Resume" : "Pause"} pool<span class="vh"> ${p.name}</span>`,
            ui.csrf,
            { quiet: true, admin: true },
          )}<span class="mute">Limit: ${p.concurrency_limit ?? "none"}${p.description ? ` · ${p.description}` : ""}</span></div>
          <div class="box"><table><caption class="vh">Queues of ${p.name}</caption><thead><tr><th scope="col">Queue</th><th scope="col">Priority</th><th scope="col">Limit</th><th scope="col">State</th><th scope="col"><span class="vh">Action</span></th></tr></thead><tbody>
          ${p.queues.map(
            (
              q,
            ) => html`<tr><td>${q.name}</td><td>${q.priority}</td><td>${q.concurrency_limit ?? "–"}</td><td>${q.is_paused ? "paused" : "active"}</td>
            <td>${postButton(
              `/work-pools/${pool}/queues/${encodeURIComponent(q.name)}/${q.is_paused ? "resume" : "pause"}`,
              html`${q.is_paused ? "Resume" : "Pause"} queue<span class="vh"> ${q.name} of ${p.name}</span>`,
              ui.csrf,
              { quiet: true, admin: true },
            )}</td></tr>`,
          )}</tbody></table></div>
          <h3 class="mute" style="font-size:14px">Agents</h3>${
            mine.length
              ? html`<div class="box"><table><caption class="vh">Agents of ${p.name}</caption><thead><tr><th scope="col">Agent</th><th scope="col">Status</th><th scope="col">Last heartbeat</th><th scope="col">Queues</th></tr></thead><tbody>
            ${mine.map(
              (a) =>
                html`<tr><td>${a.name}</td><td><span class="s ${a.status ?? "OFFLINE"}">${a.status ?? "OFFLINE"}${a.stopped && a.status !== "ONLINE" ? " (stopped)" : ""}</span></td><td>${when(a.last_heartbeat)}</td><td>${
                  a.work_queues.length ? a.work_queues.join(", ") : "all"
                }</td></tr>`,
            )}</tbody></table></div>`
              : html`<p class="mute">No agent has polled this pool: <code>weir agent --pool ${p.name}</code></p>`
          }</section>`;
        })}`,
        chrome(c, ui, "/work-pools", { problem }),
      ),
    );
  });

  const act = (path: string, api: (p: Record<string, string>) => [string, string, unknown], done: string) =>
    app.post(path, async (c) => {
      const ui = await uiOf(app, ctx, c);
      if (!(await formOf(c, ui)))
        return backTo(c, "/work-pools", "The form expired: reload the page and try again.", true);
      const [method, url, body] = api(c.req.param());
      const r = await ui.api(method, url, body);
      if (!r.ok) return backTo(c, "/work-pools", `Not changed: ${r.error}`, true);
      return backTo(c, "/work-pools", done);
    });
  const p = (x: Record<string, string>, k: string) => encodeURIComponent(x[k] ?? "");
  act(
    "/work-pools/:name/pause",
    (x) => ["POST", `/api/work-pools/${p(x, "name")}/pause`, {}],
    "Pool paused.",
  );
  act(
    "/work-pools/:name/resume",
    (x) => ["POST", `/api/work-pools/${p(x, "name")}/resume`, {}],
    "Pool resumed.",
  );
  act(
    "/work-pools/:name/queues/:queue/pause",
    (x) => ["PATCH", `/api/work-pools/${p(x, "name")}/queues/${p(x, "queue")}`, { is_paused: true }],
    "Queue paused.",
  );
  act(
    "/work-pools/:name/queues/:queue/resume",
    (x) => ["PATCH", `/api/work-pools/${p(x, "name")}/queues/${p(x, "queue")}`, { is_paused: false }],
    "Queue resumed.",
  );
}
