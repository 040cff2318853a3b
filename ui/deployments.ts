import type { Context, Hono } from "hono";
import { html, raw } from "hono/html";
import type { ApiContext } from "../core/api/index.ts";
import type { Deployment, FlowRun } from "../core/model/index.ts";
import { csrfField, type Html, json, page, postButton, stateBadge, when } from "./layout.ts";
import { problemsByField, readSchemaInputs, schemaFields, schemaInputs } from "./schema-form.ts";
import { backTo, chrome, formOf, type Ui, uiOf } from "./session.ts";

/** Deployments: the list with filters, a deployment's page, quick and custom runs, editing. */
export function deploymentPages(app: Hono, ctx: ApiContext): void {
  const store = ctx.store;

  const load = async (c: Context, ui: Ui): Promise<Deployment | Response> => {
    const r = await ui.api<Deployment>(
      "GET",
      `/api/deployments/${encodeURIComponent(c.req.param("id") ?? "")}`,
    );
    if (r.ok) return r.data;
    return c.html(page("Not found", html`<h1>Deployment not found</h1><p>${r.error}</p>`), r.status as 404);
  };
  /** A handler of a deployment's page: the browser's UI and the deployment the path names (else a 404 page). */
  const withDeployment =
    (fn: (c: Context, ui: Ui, d: Deployment) => Response | Promise<Response>) => async (c: Context) => {
      const ui = await uiOf(app, ctx, c);
      const d = await load(c, ui);
      return d instanceof Response ? d : fn(c, ui, d);
    };

  app.get("/deployments", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const q = c.req.query();
    const all = await store.listDeployments({ limit: 10_000 });
    const search = (q.q ?? "").trim().toLowerCase();
    const list = all.filter(
      (d) =>
        (!q.flow || d.flow_name === q.flow) &&
        (!q.tag || d.tags.includes(q.tag)) &&
        (!q.pool || d.work_pool_name === q.pool) &&
        (!q.paused || String(d.paused) === q.paused) &&
        (!search ||
          `${d.flow_name}/${d.name} ${d.description ?? ""} ${d.tags.join(" ")}`
            .toLowerCase()
            .includes(search)),
    );
    const flows = [...new Set(all.map((d) => d.flow_name))].sort();
    const pools = [...new Set(all.map((d) => d.work_pool_name).filter((p): p is string => !!p))].sort();
    const tags = [...new Set(all.flatMap((d) => d.tags))].sort();
    const opt = (value: string, current: string | undefined, label = value) =>
      html`<option value="${value}"${value === current ? raw(" selected") : ""}>${label}</option>`;
    return c.html(
      page(
        "Deployments",
        html`<h1>Deployments</h1>
        <form class="filters" method="get" action="/deployments" role="search" aria-label="Filter deployments">
          <label>Search<input type="search" name="q" value="${q.q ?? ""}" placeholder="name, description, tag"></label>
          <label>Flow<select name="flow"><option value="">any</option>${flows.map((f) => opt(f, q.flow))}</select></label>
          <label>Tag<select name="tag"><option value="">any</option>${tags.map((t) => opt(t, q.tag))}</select></label>
          <label>Work pool<select name="pool"><option value="">any</option>${pools.map((p) => opt(p, q.pool))}</select></label>
          <label>Paused<select name="paused"><option value="">any</option>${opt("true", q.paused, "paused")}${opt("false", q.paused, "active")}</select></label>
          <button type="submit">Filter deployments</button> <a href="/deployments">Clear filters</a>
        </form>
        ${
          list.length === 0
            ? html`<p class="mute">${all.length ? "No deployment matches these filters." : html`No deployments yet: run <code>weir deploy --all</code> in a project.`}</p>`
            : html`<div class="box"><table><thead><tr><th scope="col">Deployment</th><th scope="col">Schedules</th><th scope="col">Pool / queue</th><th scope="col">Tags</th><th scope="col">Updated</th><th scope="col"><span class="mute">Run</span></th></tr></thead><tbody>
          ${list.map(
            (
              d,
            ) => html`<tr><td><a href="/deployments/${d.id}">${d.flow_name}/${d.name}</a>${d.paused ? html` <span class="s PAUSED">paused</span>` : ""}${
              d.description ? html`<br><span class="mute">${d.description}</span>` : ""
            }</td><td>${scheduleText(d)}</td><td>${d.work_pool_name ?? "–"} / ${d.work_queue_name ?? "–"}</td><td>${d.tags.join(", ")}</td><td>${when(d.updated)}</td>
            <td>${postButton(`/deployments/${d.id}/quick-run`, html`Quick run<span class="vh"> ${d.flow_name}/${d.name}</span>`, ui.csrf)}</td></tr>`,
          )}</tbody></table></div>`
        }`,
        chrome(c, ui, "/deployments"),
      ),
    );
  });

  app.get(
    "/deployments/:id",
    withDeployment(async (c, ui, d) => {
      const [recent, upcoming] = await Promise.all([
        store.listFlowRuns({ deploymentId: d.id, limit: 10 }),
        store.listFlowRuns({ deploymentId: d.id, stateTypes: ["SCHEDULED"], limit: 200 }),
      ]);
      const next = upcoming
        .filter((r) => r.next_scheduled_start_time)
        .sort((a, b) => (a.next_scheduled_start_time! < b.next_scheduled_start_time! ? -1 : 1))
        .slice(0, 5);
      return c.html(
        page(
          `${d.flow_name}/${d.name}`,
          html`<h1>Deployment ${d.flow_name}/${d.name}${d.paused ? html` <span class="s PAUSED">paused</span>` : ""}</h1>
        ${d.description ? html`<p>${d.description}</p>` : ""}
        <div class="actions">
          ${postButton(`/deployments/${d.id}/quick-run`, "Quick run (defaults)", ui.csrf)}
          <a class="button act" href="/deployments/${d.id}/run">Custom run…</a>
          <a class="button quiet act" href="/deployments/${d.id}/edit">Edit description, parameters and tags</a>
        </div>
        <div class="box"><dl class="kv">
          <dt>Flow</dt><dd>${d.flow_name}</dd><dt>Version</dt><dd>${d.version ?? "–"}</dd>
          <dt>Entrypoint</dt><dd><code>${d.entrypoint ?? "–"}</code></dd>
          <dt>Work pool / queue</dt><dd>${d.work_pool_name ?? "– (no agent will run it)"} / ${d.work_queue_name ?? "–"}</dd>
          <dt>Tags</dt><dd>${d.tags.length ? d.tags.map((t) => html`<a href="/deployments?tag=${encodeURIComponent(t)}">${t}</a> `) : "–"}</dd>
          <dt>Concurrency limit</dt><dd>${d.concurrency_limit ? `${d.concurrency_limit.limit} (${d.concurrency_limit.collision_strategy})` : "–"}</dd>
          <dt>Enforce parameter schema</dt><dd>${d.enforce_parameter_schema ? "yes" : "no"}</dd>
          <dt>Updated</dt><dd>${when(d.updated)}</dd><dt>Id</dt><dd><code>${d.id}</code></dd>
        </dl></div>
        <h2>Schedules</h2>${
          d.paused || !d.is_schedule_active
            ? html`<div class="notice">${d.paused ? "The deployment is paused: it makes no runs." : "All schedules of this deployment are switched off: they make no runs."} ${postButton(
                `/deployments/${d.id}/${d.paused ? "resume" : "resume-schedule"}`,
                d.paused ? "Resume the deployment" : "Switch its schedules on",
                ui.csrf,
              )}</div>`
            : ""
        }${
          d.schedules.length
            ? html`<div class="box"><table><thead><tr><th scope="col">Schedule</th><th scope="col">State</th><th scope="col"><span class="mute">Action</span></th></tr></thead><tbody>${d.schedules.map(
                (
                  s,
                ) => html`<tr><td>${scheduleText({ schedules: [s], is_schedule_active: true })}${s.error ? html`<p class="error">${s.error}</p>` : ""}</td>
                <td>${
                  !s.active
                    ? "paused"
                    : !d.is_schedule_active
                      ? "on, but all schedules of the deployment are switched off"
                      : d.paused
                        ? "on, but the deployment is paused"
                        : "active"
                }</td>
                <td>${postButton(`/deployments/${d.id}/schedules/${s.id}/${s.active ? "pause" : "resume"}`, s.active ? "Pause this schedule" : "Resume this schedule", ui.csrf, { quiet: true })}</td></tr>`,
              )}</tbody></table></div>
              <h2>Next runs</h2>${
                next.length
                  ? html`<div class="box"><table><tbody>${next.map((r) => html`<tr><td><a href="/runs/${r.id}">${r.name}</a></td><td>${when(r.next_scheduled_start_time)}</td></tr>`)}</tbody></table></div>`
                  : html`<p class="mute">No runs scheduled yet.</p>`
              }`
            : html`<p class="mute">No schedules.</p>`
        }
        <h2>Default parameters</h2><div class="box"><pre>${json(d.parameters)}</pre></div>
        <h2>Job variables</h2><div class="box"><pre>${json(d.job_variables)}</pre></div>
        <h2>Pull steps</h2><div class="box"><pre>${json(d.pull_steps ?? [])}</pre></div>
        <h2>Recent runs</h2>${
          recent.length
            ? html`<div class="box"><table><thead><tr><th scope="col">Run</th><th scope="col">State</th><th scope="col">Created</th></tr></thead><tbody>${recent.map(
                (r) =>
                  html`<tr><td><a href="/runs/${r.id}">${r.name}</a></td><td>${stateBadge(r.state.type, r.state.name)}</td><td>${when(r.created)}</td></tr>`,
              )}</tbody></table></div><p><a href="/?deployment=${d.id}">All runs of this deployment</a></p>`
            : html`<p class="mute">No runs yet.</p>`
        }`,
          chrome(c, ui, "/deployments"),
        ),
      );
    }),
  );

  app.post("/deployments/:id/quick-run", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const id = c.req.param("id");
    if (!(await formOf(c, ui)))
      return backTo(c, `/deployments/${id}`, "The form expired: reload the page and try again.", true);
    const r = await ui.api<FlowRun>("POST", `/api/deployments/${encodeURIComponent(id)}/runs`, {});
    if (!r.ok) return backTo(c, `/deployments/${id}`, `Could not start a run: ${r.error}`, true);
    return backTo(
      c,
      `/runs/${r.data.id}`,
      `Created flow run ${r.data.name}; an agent of its work pool starts it.`,
    );
  });

  const runForm = (
    c: Context,
    ui: Ui,
    d: Deployment,
    state: {
      values?: Record<string, unknown>;
      errors?: Record<string, string>;
      form?: Record<string, string>;
      problem?: string;
    } = {},
  ) => {
    const fields = schemaFields(d.parameter_openapi_schema);
    const defaults = Object.fromEntries(
      Object.entries(
        (d.parameter_openapi_schema?.properties as Record<string, { default?: unknown }> | undefined) ?? {},
      )
        .filter(([, p]) => p.default !== undefined)
        .map(([k, p]) => [k, p.default]),
    );
    const values = state.values ?? { ...defaults, ...d.parameters };
    const errors = state.errors ?? {};
    const form = state.form ?? {};
    const field = (name: string, label: string, input: Html, hint?: string) =>
      html`<div class="field"><label for="${name}">${label}</label>${hint ? html`<div class="hint" id="${name}-hint">${hint}</div>` : ""}${input}${
        errors[`_${name}`] ? html`<p class="error" id="${name}-err">${errors[`_${name}`]}</p>` : ""
      }</div>`;
    return c.html(
      page(
        `Run ${d.flow_name}/${d.name}`,
        html`<h1>Custom run of ${d.flow_name}/${d.name}</h1>
        <form method="post" action="/deployments/${d.id}/run" novalidate>
          ${csrfField(ui.csrf)}
          <h2>Parameters</h2>
          ${
            fields
              ? fields.length
                ? schemaInputs(fields, values, errors, form)
                : html`<p class="mute">This flow takes no parameters.</p>`
              : field(
                  "parameters",
                  "Parameters (JSON object)",
                  html`<textarea id="parameters" name="parameters" aria-describedby="parameters-hint">${form.parameters ?? json(values)}</textarea>`,
                  "Merged over the deployment's defaults.",
                )
          }
          <h2>Options</h2>
          ${field("start", "Start at (UTC; empty: now)", html`<input type="datetime-local" id="start" name="start" value="${form.start ?? ""}">`)}
          ${field("tags", "Extra tags (comma separated)", html`<input id="tags" name="tags" value="${form.tags ?? ""}">`)}
          ${field(
            "job_variables",
            "Job variables (JSON object)",
            html`<textarea id="job_variables" name="job_variables" aria-describedby="job_variables-hint">${form.job_variables ?? ""}</textarea>`,
            "Merged over the deployment's, for this run only.",
          )}
          <div class="actions"><button type="submit">Start this run</button><a class="button quiet" href="/deployments/${d.id}">Back to the deployment</a></div>
        </form>`,
        chrome(c, ui, "/deployments", { problem: state.problem }),
      ),
      state.problem ? 422 : 200,
    );
  };

  app.get(
    "/deployments/:id/run",
    withDeployment((c, ui, d) => runForm(c, ui, d)),
  );

  app.post(
    "/deployments/:id/run",
    withDeployment(async (c, ui, d) => {
      const form = await formOf(c, ui);
      if (!form) return runForm(c, ui, d, { problem: "The form expired: send it again." });
      const fields = schemaFields(d.parameter_openapi_schema);
      const errors: Record<string, string> = {};
      let parameters: Record<string, unknown> = {};
      if (fields) {
        const read = readSchemaInputs(fields, form);
        parameters = read.values;
        Object.assign(errors, read.errors);
      } else {
        const read = jsonObject(form.parameters || "{}");
        if (read.value) parameters = read.value;
        else errors._parameters = read.error;
      }
      let jobVariables: Record<string, unknown> | undefined;
      if (form.job_variables?.trim()) {
        const read = jsonObject(form.job_variables);
        if (read.value) jobVariables = read.value;
        else errors._job_variables = read.error;
      }
      let scheduled: string | undefined;
      if (form.start?.trim()) {
        const t = Date.parse(`${form.start.trim()}Z`);
        if (Number.isNaN(t)) errors._start = `"${form.start}" is not a date and time`;
        else scheduled = new Date(t).toISOString();
      }
      const tags = (form.tags ?? "")
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean);
      const values = { ...d.parameters, ...parameters };
      if (Object.keys(errors).length)
        return runForm(c, ui, d, { values, errors, form, problem: "Some fields need fixing (see below)." });
      const r = await ui.api<FlowRun>("POST", `/api/deployments/${d.id}/runs`, {
        parameters,
        tags: tags.length ? tags : undefined,
        job_variables: jobVariables,
        scheduled_time: scheduled,
      });
      if (!r.ok) {
        const byField = fields ? problemsByField(r.error, fields) : {};
        if (!fields && /parameter/i.test(r.error)) byField._parameters = r.error;
        if (/job.?variable/i.test(r.error)) byField._job_variables = r.error;
        return runForm(c, ui, d, {
          values,
          errors: byField,
          form,
          problem: `The run was not started: ${r.error}`,
        });
      }
      return backTo(
        c,
        `/runs/${r.data.id}`,
        `Created flow run ${r.data.name}; an agent of its work pool starts it.`,
      );
    }),
  );

  const editForm = (
    c: Context,
    ui: Ui,
    d: Deployment,
    form?: Record<string, string>,
    problem?: string,
    errors: Record<string, string> = {},
  ) =>
    c.html(
      page(
        `Edit ${d.flow_name}/${d.name}`,
        html`<h1>Edit ${d.flow_name}/${d.name}</h1>
        <form method="post" action="/deployments/${d.id}/edit" novalidate>${csrfField(ui.csrf)}
          <div class="field"><label for="description">Description</label><textarea id="description" name="description">${form?.description ?? d.description ?? ""}</textarea></div>
          <div class="field"><label for="parameters">Default parameters (JSON object)</label><div class="hint" id="parameters-hint">Every run starts from these; a custom run overrides them.</div>
          <textarea id="parameters" name="parameters" aria-describedby="parameters-hint${errors.parameters ? " parameters-err" : ""}"${errors.parameters ? raw(' aria-invalid="true"') : ""}>${form?.parameters ?? json(d.parameters)}</textarea>${
            errors.parameters ? html`<p class="error" id="parameters-err">${errors.parameters}</p>` : ""
          }</div>
          <div class="field"><label for="tags">Tags (comma separated)</label><input id="tags" name="tags" value="${form?.tags ?? d.tags.join(", ")}"${errors.tags ? raw(' aria-invalid="true"') : ""}>${
            errors.tags ? html`<p class="error">${errors.tags}</p>` : ""
          }</div>
          <div class="actions"><button type="submit">Save changes</button><a class="button quiet" href="/deployments/${d.id}">Cancel editing</a></div>
        </form>`,
        chrome(c, ui, "/deployments", { problem }),
      ),
      problem ? 422 : 200,
    );

  app.get(
    "/deployments/:id/edit",
    withDeployment((c, ui, d) => editForm(c, ui, d)),
  );

  app.post(
    "/deployments/:id/edit",
    withDeployment(async (c, ui, d) => {
      const form = await formOf(c, ui);
      if (!form) return editForm(c, ui, d, undefined, "The form expired: send it again.");
      let parameters: unknown;
      try {
        parameters = JSON.parse(form.parameters || "{}");
      } catch (e) {
        return editForm(c, ui, d, form, "Some fields need fixing (see below).", {
          parameters: `not valid JSON: ${(e as Error).message}`,
        });
      }
      const r = await ui.api<Deployment>("PATCH", `/api/deployments/${d.id}`, {
        description: form.description?.trim() ? form.description : null,
        parameters,
        tags: (form.tags ?? "")
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean),
      });
      if (!r.ok) {
        const errors: Record<string, string> = {};
        if (/parameter/i.test(r.error)) errors.parameters = r.error;
        if (/^tags/.test(r.error)) errors.tags = r.error;
        return editForm(c, ui, d, form, `Not saved: ${r.error}`, errors);
      }
      return backTo(c, `/deployments/${d.id}`, "Saved.");
    }),
  );

  // The deployment-level switches (weir deployment pause|resume, pause-schedule|resume-schedule).
  for (const verb of ["resume", "resume-schedule"] as const)
    app.post(`/deployments/:id/${verb}`, async (c) => {
      const ui = await uiOf(app, ctx, c);
      const id = c.req.param("id");
      if (!(await formOf(c, ui)))
        return backTo(c, `/deployments/${id}`, "The form expired: reload the page and try again.", true);
      const r = await ui.api("POST", `/api/deployments/${encodeURIComponent(id)}/${verb}`, {});
      if (!r.ok)
        return backTo(c, `/deployments/${id}`, `Could not ${verb.replace("-", " ")}: ${r.error}`, true);
      return backTo(
        c,
        `/deployments/${id}`,
        verb === "resume" ? "Deployment resumed." : "All schedules of the deployment are on again.",
      );
    });

  for (const verb of ["pause", "resume"] as const)
    app.post(`/deployments/:id/schedules/:schedule/${verb}`, async (c) => {
      const ui = await uiOf(app, ctx, c);
      const id = c.req.param("id");
      if (!(await formOf(c, ui)))
        return backTo(c, `/deployments/${id}`, "The form expired: reload the page and try again.", true);
      const r = await ui.api(
        "POST",
        `/api/deployments/${encodeURIComponent(id)}/schedules/${encodeURIComponent(c.req.param("schedule"))}/${verb}`,
        {},
      );
      if (!r.ok) return backTo(c, `/deployments/${id}`, `Could not ${verb} the schedule: ${r.error}`, true);
      return backTo(c, `/deployments/${id}`, verb === "pause" ? "Schedule paused." : "Schedule resumed.");
    });
}

export function scheduleText(d: {
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

/** A form field's text as a JSON object, or why it is not one. */
function jsonObject(
  text: string,
): { value: Record<string, unknown>; error?: undefined } | { value?: undefined; error: string } {
  try {
    const value = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return { value };
    return { error: 'not a JSON object: write it as {"name": value, ...}' };
  } catch (e) {
    return { error: `not a JSON object: ${(e as Error).message}` };
  }
}
