import type { Context, Hono } from "hono";
import { html, raw } from "hono/html";
import { streamSSE } from "hono/streaming";
import type { ApiContext } from "../core/api/index.ts";
import {
  describeError,
  type FlowRun,
  isTerminal,
  LOG_LEVELS,
  levelName,
  NAMED_STATES,
  parseStateFilter,
  STATE_TYPES,
  type StateType,
} from "../core/model/index.ts";
import { CONFIRM_SCRIPT, json, page, postButton, seconds, stateBadge, when } from "./layout.ts";
import { backTo, chrome, formOf, type Ui, uiOf } from "./session.ts";

const PAGE = 50;

/** Runs: the list with filters and pages, a run's page with live logs, cancel and retry. */
export function runPages(app: Hono, ctx: ApiContext): void {
  const store = ctx.store;

  app.get("/", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const q = c.req.query();
    const state = (q.state ?? "").toUpperCase();
    const offset = Math.max(0, Number.parseInt(q.offset ?? "0", 10) || 0);
    const problems: string[] = [];
    const time = (v: string | undefined, label: string) => {
      if (!v) return undefined;
      const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);
      if (Number.isNaN(t)) {
        problems.push(`${label}: "${v}" is not a date and time (use the picker, or YYYY-MM-DDTHH:MM)`);
        return undefined;
      }
      return new Date(t).toISOString();
    };
    // A state type or a named state (Late, AwaitingRetry, Retrying); another word is said, not ignored.
    let states: { types: StateType[]; names: string[] } = { types: [], names: [] };
    try {
      if (state) states = parseStateFilter([q.state ?? ""], "State", "INVALID");
    } catch (err) {
      problems.push(describeError(err));
    }
    const filter = {
      stateTypes: states.types,
      stateNames: states.names,
      deploymentId: q.deployment || undefined,
      flowName: q.flow || undefined,
      tag: q.tag || undefined,
      createdAfter: time(q.from, "From"),
      createdBefore: time(q.to, "To"),
    };
    const [runs, deployments] = await Promise.all([
      store.listFlowRuns({ ...filter, limit: PAGE + 1, offset }),
      store.listDeployments({ limit: 1000 }),
    ]);
    const more = runs.length > PAGE;
    const shown = runs.slice(0, PAGE);
    const link = (off: number) => {
      const p = new URLSearchParams({ ...q, offset: String(off) });
      return `/?${p}`;
    };
    return c.html(
      page(
        "Flow runs",
        html`<h1>Flow runs</h1>
        <form class="filters" method="get" action="/" role="search" aria-label="Filter runs">
          <label>State<select name="state"><option value="">any</option>${[
            ...STATE_TYPES,
            ...Object.keys(NAMED_STATES),
          ].map(
            (s) =>
              html`<option value="${s}"${s === state ? raw(" selected") : ""}>${NAMED_STATES[s] ?? s.toLowerCase()}</option>`,
          )}</select></label>
          <label>Deployment<select name="deployment"><option value="">any</option>${deployments.map(
            (d) =>
              html`<option value="${d.id}"${d.id === q.deployment ? raw(" selected") : ""}>${d.flow_name}/${d.name}</option>`,
          )}</select></label>
          <label>Flow<input name="flow" value="${q.flow ?? ""}" size="12"></label>
          <label>Tag<input name="tag" value="${q.tag ?? ""}" size="10"></label>
          <label>From (UTC)<input type="datetime-local" name="from" value="${q.from ?? ""}"></label>
          <label>To (UTC)<input type="datetime-local" name="to" value="${q.to ?? ""}"></label>
          <button type="submit">Filter runs</button> <a href="/">Clear filters</a>
        </form>
        ${problems.map((p) => html`<p role="alert">${p}</p>`)}
        <div id="runs">${
          shown.length === 0
            ? html`<p class="mute">${
                offset || Object.values(filter).some(Boolean)
                  ? "No flow runs match these filters."
                  : html`No flow runs yet. Deploy with <code>weir deploy --all</code>, then start one from <a href="/deployments">Deployments</a>.`
              }</p>`
            : html`<div class="box"><table><caption class="mute" style="text-align:left;padding:6px 10px">Runs ${offset + 1}–${offset + shown.length}, newest first</caption>
          <thead><tr><th scope="col">Run</th><th scope="col">Flow / deployment</th><th scope="col">State</th><th scope="col">Start</th><th scope="col">Created</th><th scope="col">Duration</th><th scope="col">Tags</th></tr></thead>
          <tbody>${shown.map(runRow)}</tbody></table></div>`
        }</div>
        <nav class="pager" aria-label="Pages">${offset > 0 ? html`<a href="${link(Math.max(0, offset - PAGE))}">← Newer runs</a>` : ""}${more ? html`<a href="${link(offset + PAGE)}">Older runs →</a>` : ""}</nav>`,
        chrome(c, ui, "/", { script: offset === 0 ? LIST_SCRIPT : undefined }),
      ),
    );
  });

  app.get("/runs/:id", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const id = c.req.param("id");
    const got = await ui.api<FlowRun>("GET", `/api/flow-runs/${encodeURIComponent(id)}`);
    if (!got.ok)
      return c.html(
        page("Not found", html`<h1>Flow run not found</h1><p>${got.error}</p>`),
        got.status as 404,
      );
    const run = got.data;
    const levelQ = c.req.query("level") ?? "debug";
    const minLevel = LOG_LEVELS[levelQ as keyof typeof LOG_LEVELS] ?? 10;
    const [states, tasks, tail, children, parent] = await Promise.all([
      store.listFlowRunStates(id, { limit: 1000 }),
      store.listTaskRuns(id, { limit: 1000 }),
      // The last lines, where a failure's error is; what is left out is said. A live page's
      // refresh of its other parts (?parts=1) takes none.
      c.req.query("parts") === "1" ? { lines: [], total: 0 } : store.listLogTail(id, SHOWN_LINES, minLevel),
      store.listFlowRuns({ parentFlowRunId: id, limit: 1000 }),
      run.parent_flow_run_id ? store.getFlowRun(run.parent_flow_run_id).catch(() => null) : null,
    ]);
    const waiting =
      run.state.type === "SCHEDULED" && run.state.name !== "AwaitingRetry"
        ? await waitingReason(ctx, run)
        : null;
    const lastLog = tail.lines.at(-1)?.id ?? 0;
    const shownLogs = tail.lines;
    const leftOut = tail.total - shownLogs.length;
    const done = isTerminal(run.state.type);
    // A subflow inside its parent's process stops with its parent; a run without a deployment
    // has nothing an agent could start again.
    const inside = !!run.parent_flow_run_id && !run.deployment_id;
    return c.html(
      page(
        `Run ${run.name}`,
        html`<h1>Flow run ${run.name} <span id="state">${stateBadge(run.state.type, run.state.name)}</span></h1>
        <div class="actions">
          ${
            inside
              ? done
                ? ""
                : html`<span class="mute">It runs inside its parent's process: cancel <a href="/runs/${run.parent_flow_run_id}">its parent</a> to stop it.</span>`
              : postButton(`/runs/${run.id}/cancel`, "Cancel this run", ui.csrf, {
                  danger: true,
                  hidden: done,
                  id: "cancel",
                  confirm: `Cancel flow run ${run.name}?`,
                })
          }
          ${run.deployment_id ? postButton(`/runs/${run.id}/retry`, "Retry this run", ui.csrf, { hidden: !done, id: "retry" }) : ""}
          ${run.deployment_id ? html`<a class="button quiet" href="/deployments/${run.deployment_id}">Open its deployment</a>` : ""}
        </div>
        <p id="message" class="mute">${run.state.message ?? ""}</p>
        ${waiting ? html`<p class="notice" id="waiting">Nothing will start this run for now: ${waiting}.</p>` : ""}
        <div class="box" id="details"><dl class="kv">
          <dt>Flow</dt><dd>${run.flow_name}</dd>
          <dt>Deployment</dt><dd>${run.deployment_id ? html`<a href="/deployments/${run.deployment_id}">${run.flow_name}/${run.deployment_name}</a>` : "–"}</dd>
          <dt>Parent run</dt><dd>${parent ? html`<a href="/runs/${parent.id}">${parent.name}</a>` : "–"}</dd>
          <dt>Work pool / queue</dt><dd>${run.work_pool_name ?? "–"} / ${run.work_queue_name ?? "–"}</dd>
          <dt>Tags</dt><dd>${run.tags.length ? run.tags.map((t) => html`<a href="/?tag=${encodeURIComponent(t)}">${t}</a> `) : "–"}</dd>
          <dt>Scheduled for</dt><dd>${when(run.expected_start_time)}</dd>
          <dt>Started / ended</dt><dd>${when(run.start_time)} / ${when(run.end_time)}</dd>
          <dt>Duration</dt><dd>${seconds(run.total_run_time)}</dd><dt>Attempts</dt><dd>${run.run_count}</dd>
          <dt>Id</dt><dd><code>${run.id}</code></dd>
        </dl></div>
        <h2>Parameters</h2><div class="box"><pre>${json(run.parameters)}</pre></div>
        <h2>State timeline</h2><div class="box"><ol class="timeline" id="timeline">${states.map(
          (s) =>
            html`<li><time datetime="${s.timestamp}">${when(s.timestamp)}</time> ${stateBadge(s.type, s.name)} ${s.message ?? ""}</li>`,
        )}</ol></div>
        <section id="tasks"><h2>Task runs (${tasks.length})</h2>${
          tasks.length
            ? html`<div class="box"><table><thead><tr><th scope="col">Task</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">Message</th></tr></thead><tbody>
          ${tasks.map((t) => html`<tr><td>${t.name}</td><td>${stateBadge(t.state.type, t.state.name)}</td><td>${t.run_count}</td><td>${when(t.start_time)}</td><td>${when(t.end_time)}</td><td>${t.state.message ?? ""}</td></tr>`)}</tbody></table></div>`
            : html`<p class="mute">No task runs.</p>`
        }</section>
        <section id="subflows"><h2>Subflow runs (${children.length})</h2>${
          children.length
            ? html`<div class="box"><table><thead><tr><th scope="col">Run</th><th scope="col">Flow / deployment</th><th scope="col">State</th><th scope="col">Start</th><th scope="col">Created</th><th scope="col">Duration</th><th scope="col">Tags</th></tr></thead><tbody>${children
                .slice()
                .reverse()
                .map(runRow)}</tbody></table></div>`
            : html`<p class="mute">No subflow runs.</p>`
        }</section>
        <h2 id="logs-title">Logs</h2>
        <form class="filters" method="get" action="/runs/${run.id}" aria-label="Filter log lines">
          <label>Lowest level<select name="level">${Object.keys(LOG_LEVELS).map(
            (l) => html`<option value="${l}"${l === levelQ ? raw(" selected") : ""}>${l}</option>`,
          )}</select></label><button type="submit">Show these levels</button>
          <span class="mute" id="live" aria-live="polite">${done ? "" : "Following live…"}</span>
        </form>
        <p class="mute" id="left-out"${leftOut > 0 ? "" : raw(" hidden")}>${
          leftOut > 0
            ? `Showing the last ${SHOWN_LINES.toLocaleString("en")} of ${tail.total.toLocaleString("en")} lines. `
            : ""
        }Every line: <code>weir flow-run logs ${run.id}</code></p>
        ${shownLogs.length === 0 ? html`<p class="mute" id="no-lines">No log lines${minLevel > 10 ? " at this level or above" : " yet"}.</p>` : ""}
        <div class="box"><pre id="logs" aria-labelledby="logs-title" data-run="${run.id}" data-after="${lastLog}" data-level="${minLevel}" data-done="${done ? "1" : ""}" data-keep="${SHOWN_LINES}">${raw(logSpans(shownLogs))}</pre></div>`,
        chrome(c, ui, undefined, { script: CONFIRM_SCRIPT + LIVE_SCRIPT }),
      ),
    );
  });

  /**
   * A run's new log lines and state changes as server-sent events, until it ends: `log` (a line),
   * `state` (the run's state) and `end`. The page's script follows it; without scripts the page
   * is complete as served.
   */
  app.get("/runs/:id/events", async (c) => {
    const ui = await uiOf(app, ctx, c);
    const id = c.req.param("id");
    const first = await ui.api<FlowRun>("GET", `/api/flow-runs/${encodeURIComponent(id)}`);
    if (!first.ok) return c.json({ error: { message: first.error } }, first.status as 404);
    let after = Math.max(0, Number.parseInt(c.req.query("after") ?? "0", 10) || 0);
    const minLevel = Math.max(0, Number.parseInt(c.req.query("level") ?? "0", 10) || 0);
    let seenStates = Math.max(0, Number.parseInt(c.req.query("states") ?? "0", 10) || 0);
    return streamSSE(c, async (stream) => {
      const signal = c.req.raw.signal;
      for (let idle = 0; !signal.aborted; ) {
        const run = await store.getFlowRun(id);
        const states = await store.listFlowRunStates(id, { limit: 1000, offset: seenStates });
        // Lines are read after the state: a run's last lines are shipped before its final state.
        const lines = await store.listLogs(id, after, 1000);
        for (const s of states) {
          seenStates++;
          await stream.writeSSE({ event: "state", data: JSON.stringify({ ...s, time: when(s.timestamp) }) });
        }
        // One event per batch read: a chatty run is a few events a second, not one per line.
        const batch = lines.filter((l) => l.level >= minLevel);
        if (lines.length) after = lines.at(-1)!.id;
        if (batch.length)
          await stream.writeSSE({
            event: "log",
            data: JSON.stringify({ html: batch.map(logLine).join(""), count: batch.length }),
          });
        if (states.length) {
          await stream.writeSSE({
            event: "run",
            data: JSON.stringify({
              type: run.state.type,
              name: run.state.name,
              message: run.state.message,
              terminal: isTerminal(run.state.type),
            }),
          });
        }
        if (isTerminal(run.state.type) && lines.length < 1000) {
          await stream.writeSSE({ event: "end", data: run.state.type });
          return;
        }
        if (lines.length === 1000) continue;
        idle = states.length || lines.length ? 0 : idle + 1;
        // A final state wakes this at once; log lines are looked for twice a second.
        await ctx.wakeups.wait(`run:${id}`, 500, signal);
        if (idle % 30 === 29) await stream.writeSSE({ event: "ping", data: "" });
      }
    });
  });

  const action = (path: string, verb: string, done: string) =>
    app.post(`/runs/:id/${path}`, async (c) => {
      const ui = await uiOf(app, ctx, c);
      const id = c.req.param("id");
      const back = `/runs/${encodeURIComponent(id)}`;
      if (!(await formOf(c, ui)))
        return backTo(c, back, "The form expired: reload the page and try again.", true);
      const r = await ui.api<FlowRun>("POST", `/api/flow-runs/${encodeURIComponent(id)}/${path}`, {});
      if (!r.ok) return backTo(c, back, `Could not ${verb} this run: ${r.error}`, true);
      return backTo(c, back, `${done} (now ${r.data.state.name}).`);
    });
  action("cancel", "cancel", "Cancellation requested");
  action("retry", "retry", "The run will start again");
}

/**
 * Why a scheduled run will not start for now, in the UI's words, or null: its pool is missing or
 * paused, its queue is paused, or no agent polls the pool. (Limits and schedules say their own.)
 */
async function waitingReason(ctx: ApiContext, run: FlowRun): Promise<Html | string | null> {
  const pool = run.work_pool_name;
  if (!pool) return "its deployment has no work pool";
  const wp = await ctx.store.getWorkPool(pool).catch(() => null);
  if (!wp) return html`work pool "${pool}" does not exist (create it, then start an agent for it)`;
  const pools = html`<a href="/work-pools">Work pools</a>`;
  if (wp.is_paused) return html`work pool "${pool}" is paused (resume it on ${pools})`;
  const queue = wp.queues.find((q) => q.name === run.work_queue_name);
  if (queue?.is_paused)
    return html`work queue "${queue.name}" of pool "${pool}" is paused (resume it on ${pools})`;
  const cutoff = Date.now() - (ctx.agentTimeoutMs ?? 25_000);
  const agents = await ctx.store.listAgents(pool, { limit: 1000 });
  if (!agents.some((a) => !a.stopped && Date.parse(a.last_heartbeat) >= cutoff))
    return html`no agent is polling work pool "${pool}" (start one: <code>weir agent --pool ${pool}</code>)`;
  return null;
}

/**
 * Lines as spans of 200: following a run live drops the oldest span at a time once the page
 * holds more than SHOWN_LINES, so a page opened on a long log keeps all but its oldest lines.
 */
function logSpans(lines: { timestamp: string; level: number; message: string }[]): string {
  let out = "";
  for (let i = 0; i < lines.length; i += 200)
    out += `<span>${lines
      .slice(i, i + 200)
      .map(logLine)
      .join("")}</span>`;
  return out;
}

/** Log lines a run's page shows (the last ones), and keeps while following a run live. */
const SHOWN_LINES = 5000;

function runRow(r: FlowRun): Html {
  return html`<tr><td><a href="/runs/${r.id}">${r.name}</a></td><td>${r.flow_name}${r.deployment_name ? ` / ${r.deployment_name}` : ""}</td>
  <td>${stateBadge(r.state.type, r.state.name)}</td><td>${r.start_time ? when(r.start_time) : html`<span class="mute" title="when it is scheduled to start">${when(r.expected_start_time)}</span>`}</td><td>${when(r.created)}</td><td>${seconds(r.total_run_time)}</td><td>${r.tags.join(", ")}</td></tr>`;
}

type Html = ReturnType<typeof html>;

function logLine(l: { timestamp: string; level: number; message: string }): string {
  const text = `${l.timestamp.slice(11, 23)} ${levelName(l.level).padEnd(8)} ${l.message}\n`;
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

// The first page of runs keeps itself current: the list is fetched again every 5 s and only its
// table is swapped (the filters and the page stay as they are).
const LIST_SCRIPT = `setInterval(async()=>{if(document.hidden)return;try{const r=await fetch(location.href,{headers:{accept:"text/html"}});if(!r.ok)return;
const d=new DOMParser().parseFromString(await r.text(),"text/html"),n=d.getElementById("runs");if(n)document.getElementById("runs").replaceWith(n)}catch{}},5000);`;

// Follows a run: new log lines and states as they happen (server-sent events), the state badge,
// message and buttons kept current. Inserted as text or built from escaped HTML only.
const LIVE_SCRIPT = `(()=>{const pre=document.getElementById("logs");if(!pre||pre.dataset.done)return;
const id=pre.dataset.run,tl=document.getElementById("timeline"),live=document.getElementById("live");
const es=new EventSource("/runs/"+id+"/events?after="+pre.dataset.after+"&level="+pre.dataset.level+"&states="+tl.children.length);
const badge=(t,n)=>{const s=document.createElement("span");s.className="s "+t;s.textContent=n;return s};
const keep=Number(pre.dataset.keep)||5000,sizes=[...pre.children].map(x=>x.textContent.split("\\n").length-1);let total=sizes.reduce((a,b)=>a+b,0),queued=[],n=0,frame=0,dropped=false;
const atEnd=()=>Math.abs(document.scrollingElement.scrollHeight-document.scrollingElement.clientHeight-document.scrollingElement.scrollTop)<8;
const flush=()=>{frame=0;const follow=atEnd(),s=document.createElement("span");s.innerHTML=queued.join("");pre.append(s);sizes.push(n);total+=n;queued=[];n=0;
while(total>keep&&pre.children.length>1){total-=sizes.shift();pre.firstElementChild.remove();dropped=true}
if(dropped){const lo=document.getElementById("left-out");lo.hidden=false;if(!lo.dataset.said){lo.dataset.said="1";lo.prepend("Older lines are no longer shown here. ")}}
document.getElementById("no-lines")?.remove();if(follow)window.scrollTo(0,document.scrollingElement.scrollHeight)};
es.addEventListener("log",e=>{const b=JSON.parse(e.data);queued.push(b.html);n+=b.count;if(n>=keep/2){if(frame)cancelAnimationFrame(frame);flush()}else frame||=requestAnimationFrame(flush)});
let refreshing=0;const refresh=async()=>{if(refreshing)return;refreshing=1;try{const u=new URL(location.href);u.searchParams.set("parts","1");const r=await fetch(u,{headers:{accept:"text/html"}});if(r.ok){const d=new DOMParser().parseFromString(await r.text(),"text/html");for(const k of ["details","tasks","subflows"]){const a=document.getElementById(k),b=d.getElementById(k);if(a&&b)a.replaceWith(b)}}}catch{}refreshing=0};
const timer=setInterval(()=>{if(!document.hidden)refresh()},3000);
es.addEventListener("state",e=>{const s=JSON.parse(e.data),li=document.createElement("li"),t=document.createElement("time");t.dateTime=s.timestamp;t.textContent=s.time;li.append(t," ",badge(s.type,s.name)," "+(s.message||""));tl.append(li)});
es.addEventListener("run",e=>{const r=JSON.parse(e.data),st=document.getElementById("state");st.replaceChildren(badge(r.type,r.name));document.getElementById("message").textContent=r.message||"";
show("cancel",!r.terminal);show("retry",r.terminal);refresh()});
const show=(id,on)=>{const el=document.getElementById(id);if(el)el.hidden=!on};
es.addEventListener("end",()=>{es.close();clearInterval(timer);refresh();live.textContent="The run has ended.";show("cancel",false);show("retry",true)});
es.onerror=()=>{es.close();clearInterval(timer);live.textContent="Live updates stopped; reload the page to resume."};})();`;

export type { Context, Ui };
