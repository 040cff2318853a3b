import type { Hono } from "hono";
import { html } from "hono/html";
import type { ApiContext } from "../core/api/index.ts";
import { isTerminal, levelName, WeirError } from "../core/model/index.ts";
import { page, stateBadge, when } from "./layout.ts";
import { uiLogin } from "./login.ts";

/** Server-rendered pages: runs, one run (states, tasks, logs), deployments, work pools. */
export function uiRoutes(app: Hono, ctx: ApiContext): void {
  const store = ctx.store;
  uiLogin(app, ctx);

  app.get("/", async (c) => {
    const runs = await store.listFlowRuns({ limit: 100 });
    return c.html(
      page(
        "Flow runs",
        html`<h2>Recent flow runs</h2>
        ${runs.length === 0 ? html`<p class="mute">No flow runs yet. Deploy with <code>weir deploy --all</code> and run one with <code>weir deployment run FLOW/NAME</code>.</p>` : ""}
        <table><tr><th>Run</th><th>Flow / deployment</th><th>State</th><th>Created</th><th>Duration</th></tr>
        ${runs.map(
          (
            r,
          ) => html`<tr><td><a href="/runs/${r.id}">${r.name}</a></td><td>${r.flow_name}${r.deployment_name ? ` / ${r.deployment_name}` : ""}</td>
          <td>${stateBadge(r.state.type, r.state.name)}</td><td>${when(r.created)}</td>
          <td>${r.total_run_time ? `${(r.total_run_time / 1000).toFixed(2)} s` : "–"}</td></tr>`,
        )}</table>`,
        5,
      ),
    );
  });

  app.get("/runs/:id", async (c) => {
    const id = c.req.param("id");
    let run: Awaited<ReturnType<typeof store.getFlowRun>>;
    try {
      run = await store.getFlowRun(id);
    } catch (err) {
      if (err instanceof WeirError && err.code === "NOT_FOUND")
        return c.html(page("Not found", html`<p>No flow run ${id}.</p>`), 404);
      throw err;
    }
    const [states, tasks, logs] = await Promise.all([
      store.listFlowRunStates(id),
      store.listTaskRuns(id),
      store.listLogs(id, 0, 5000),
    ]);
    return c.html(
      page(
        run.name,
        html`<h2>Flow run ${run.name} ${stateBadge(run.state.type, run.state.name)}</h2>
        <table><tr><th>Flow</th><td>${run.flow_name}</td></tr><tr><th>Deployment</th><td>${run.deployment_name ?? "–"}</td></tr>
        <tr><th>Id</th><td><code>${run.id}</code></td></tr><tr><th>Parameters</th><td><code>${JSON.stringify(run.parameters)}</code></td></tr>
        <tr><th>Message</th><td>${run.state.message ?? "–"}</td></tr></table>
        <h2>States</h2><table>${states.map((s) => html`<tr><td>${when(s.timestamp)}</td><td>${stateBadge(s.type, s.name)}</td><td>${s.message ?? ""}</td></tr>`)}</table>
        <h2>Task runs (${tasks.length})</h2><table>${tasks.map((t) => html`<tr><td>${t.name}</td><td>${stateBadge(t.state.type, t.state.name)}</td><td>${when(t.start_time)}</td><td>${t.state.message ?? ""}</td></tr>`)}</table>
        <h2>Logs</h2><pre>${logs.map((l) => `${when(l.timestamp)} ${levelName(l.level).padEnd(7)} ${l.message}\n`).join("")}</pre>`,
        isTerminal(run.state.type) ? undefined : 2,
      ),
    );
  });

  app.get("/deployments", async (c) => {
    const list = await store.listDeployments();
    return c.html(
      page(
        "Deployments",
        html`<h2>Deployments</h2><table><tr><th>Name</th><th>Entrypoint</th><th>Pool / queue</th><th>Schedules</th><th>Updated</th></tr>
        ${list.map((d) => html`<tr><td>${d.flow_name}/${d.name}</td><td><code>${d.entrypoint ?? ""}</code></td><td>${d.work_pool_name ?? "–"} / ${d.work_queue_name ?? "–"}</td><td>${scheduleText(d)}</td><td>${when(d.updated)}</td></tr>`)}</table>`,
      ),
    );
  });

  app.get("/work-pools", async (c) => {
    const [pools, agents] = await Promise.all([store.listWorkPools(), store.listAgents()]);
    return c.html(
      page(
        "Work pools",
        html`<h2>Work pools</h2><table><tr><th>Name</th><th>Type</th><th>Queues</th><th>Paused</th></tr>
        ${pools.map((p) => html`<tr><td>${p.name}</td><td>${p.type}</td><td>${p.queues.map((wq) => wq.name).join(", ")}</td><td>${p.is_paused ? "yes" : "no"}</td></tr>`)}</table>
        <h2>Agents</h2><table><tr><th>Name</th><th>Pool</th><th>Last heartbeat</th></tr>
        ${agents.map((a) => html`<tr><td>${a.name}</td><td>${a.work_pool_name}</td><td>${when(a.last_heartbeat)}</td></tr>`)}</table>`,
      ),
    );
  });
}

function scheduleText(d: {
  schedules: { schedule: Record<string, unknown>; active: boolean }[];
  is_schedule_active: boolean;
}): string {
  if (d.schedules.length === 0) return "–";
  return d.schedules
    .map((s) => {
      const spec = s.schedule;
      const what = spec.cron
        ? `cron ${spec.cron}`
        : spec.interval
          ? `every ${spec.interval} s`
          : `rrule ${spec.rrule}`;
      const tz = spec.timezone && spec.timezone !== "UTC" ? ` (${spec.timezone})` : "";
      return `${what}${tz}${s.active && d.is_schedule_active ? "" : " — paused"}`;
    })
    .join("; ");
}
