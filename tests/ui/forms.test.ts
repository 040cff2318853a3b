// The UI's forms without a browser: every change needs the page's CSRF token, goes through the API
// as the signed-in caller (so a read token's session changes nothing, with the API's reason), and
// no network request can pose as the UI's in-process caller.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp, Wakeups } from "../../core/api/index.ts";
import { Authenticator, newToken, tokenHash } from "../../core/auth/index.ts";
import { uiRoutes } from "../../ui/index.ts";
import { registry, tempStore } from "../helpers.ts";

const ADMIN = newToken();
let store: Awaited<ReturnType<typeof tempStore>>;
let app: Hono;
let open: Hono;
let deploymentId: string;

/** A browser: keeps cookies, sends forms as a browser does (same origin). */
class Browser {
  cookies = new Map<string, string>();
  constructor(readonly app: Hono) {}
  async go(method: string, path: string, form?: Record<string, string>) {
    const res = await this.app.request(path, {
      method,
      headers: {
        host: "127.0.0.1:4200",
        origin: method === "GET" ? "" : "http://127.0.0.1:4200",
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const [k, v] = pair!.split("=");
      if (/Max-Age=0/i.test(c)) this.cookies.delete(k!);
      else this.cookies.set(k!, v ?? "");
    }
    return { status: res.status, location: res.headers.get("location"), text: await res.text() };
  }
  /** The CSRF token of the page at `path`. */
  async csrf(path: string): Promise<string> {
    const page = await this.go("GET", path);
    return /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? "";
  }
  async signIn(token: string) {
    const csrf = await this.csrf("/login");
    const r = await this.go("POST", "/login", { csrf, token });
    expect([r.status, r.location]).toEqual([303, "/"]);
  }
}

let tokens = 0;
async function addToken(scope: string, name = `t-${scope}-${++tokens}`) {
  const token = newToken();
  await store.createToken({
    name,
    scope,
    hash: tokenHash(token),
    workPoolName: null,
    flowRunId: null,
    expires: null,
  });
  return token;
}

const runCount = async () => (await store.listFlowRuns({ deploymentId, limit: 1000 })).length;

beforeAll(async () => {
  store = await tempStore();
  const base = { store, version: "test", registry, allowedHosts: null };
  app = createApp(
    { ...base, wakeups: new Wakeups(), auth: new Authenticator(store, ADMIN) },
    { extend: uiRoutes },
  );
  open = createApp({ ...base, wakeups: new Wakeups() }, { extend: uiRoutes });
  await store.createWorkPool({ name: "local", type: "process" });
  const { deployment } = await store.upsertDeployment({
    flow_name: "f",
    name: "d",
    entrypoint: "f.ts:f",
    work_pool_name: "local",
  });
  deploymentId = deployment.id;
});
afterAll(() => store.dispose());

describe("UI pages", () => {
  test("an address with no page gets a page saying so; an unknown API path keeps its JSON 404", async () => {
    const b = new Browser(open);
    const page = await b.go("GET", "/runs");
    expect(page.status).toBe(404);
    expect(page.text).toContain("<h1>Page not found</h1>");
    expect(page.text).toContain("Weir has no page at /runs.");
    const api = await b.go("GET", "/api/nope");
    expect(api.status).toBe(404);
    expect(JSON.parse(api.text).error.message).toBe("No route GET /api/nope (see /api/openapi.json)");
    expect((await b.go("GET", "/deployments")).status).toBe(200);
  });
});

describe("a deployment's schedules", () => {
  test("switched off or paused at the deployment: the page says so and offers to switch them back", async () => {
    const { deployment } = await store.upsertDeployment({
      flow_name: "f",
      name: "timed",
      entrypoint: "f.ts:f",
      work_pool_name: "local",
      schedules: [{ schedule: { interval: 3600 } }],
    });
    const b = new Browser(open);
    await store.setScheduleActiveForDeployment(deployment.id, false);
    const off = await b.go("GET", `/deployments/${deployment.id}`);
    expect(off.text).toContain("on, but all schedules of the deployment are switched off");
    expect(off.text).toContain("Switch its schedules on");
    const on = await b.go("POST", `/deployments/${deployment.id}/resume-schedule`, {
      csrf: /name="csrf" value="([^"]+)"/.exec(off.text)![1]!,
    });
    expect(on.location).toBe(`/deployments/${deployment.id}`);
    expect((await store.getDeployment(deployment.id)).is_schedule_active).toBe(true);
    const page = await b.go("GET", `/deployments/${deployment.id}`);
    expect(page.text).toContain("All schedules of the deployment are on again.");
    expect(page.text).not.toContain("switched off");
    await store.setDeploymentPaused(deployment.id, true);
    const paused = await b.go("GET", `/deployments/${deployment.id}`);
    expect(paused.text).toContain("The deployment is paused: it makes no runs.");
    expect(paused.text).toContain("on, but the deployment is paused");
    await b.go("POST", `/deployments/${deployment.id}/resume`, {
      csrf: /name="csrf" value="([^"]+)"/.exec(paused.text)![1]!,
    });
    expect((await store.getDeployment(deployment.id)).paused).toBe(false);
  });
});

describe("a run's page", () => {
  test("a run nothing will start says why: its pool paused, its queue paused, no agent", async () => {
    const b = new Browser(open);
    await store.setWorkPoolPaused("local", true);
    const started = await b.go("POST", `/deployments/${deploymentId}/quick-run`, {
      csrf: await b.csrf(`/deployments/${deploymentId}`),
    });
    const shown = await b.go("GET", started.location!);
    expect(shown.text).toContain("Created flow run");
    expect(shown.text).toContain('Nothing will start this run for now: work pool "local" is paused');
    await store.setWorkPoolPaused("local", false);
    const noAgent = await b.go("GET", started.location!.split("?")[0]!);
    expect(noAgent.text).toContain('no agent is polling work pool "local"');
    await store.heartbeat({ id: "a1", name: "a1", work_pool_name: "local", work_queues: [] });
    expect((await b.go("GET", started.location!.split("?")[0]!)).text).not.toContain("Nothing will start");
    await store.heartbeat({ id: "a1", name: "a1", work_pool_name: "local", work_queues: [], stopping: true });
    expect((await b.go("GET", started.location!.split("?")[0]!)).text).toContain("no agent is polling");
    // The runs list says when a scheduled run starts, not only when it was created.
    const run = await store.getFlowRun(started.location!.split("/").at(-1)!.split("?")[0]!);
    const list = await b.go("GET", "/");
    expect(list.text).toContain('<th scope="col">Start</th>');
    // The state filter takes named states; another word is said, not ignored.
    expect((await b.go("GET", "/?state=bogus")).text).toContain(
      "State &quot;bogus&quot; is not a state type or named state",
    );
    expect((await b.go("GET", "/?state=LATE")).text).toContain('<option value="LATE" selected>Late</option>');
    expect(list.text).toContain(
      `title="when it is scheduled to start">${run.expected_start_time!.replace("T", " ").slice(0, 19)} UTC`,
    );
    // A run waiting to retry is its own process's to start again: nothing to say.
    const runId = started.location!.split("/").at(-1)!.split("?")[0]!;
    await store.setFlowRunState(runId, { type: "RUNNING" });
    await store.setFlowRunState(runId, { type: "SCHEDULED", name: "AwaitingRetry" });
    expect((await b.go("GET", `/runs/${runId}`)).text).not.toContain("Nothing will start");
  });

  test("shows a chatty run's last lines, says how many it leaves out, and filters levels in full", async () => {
    const b = new Browser(open);
    const started = await b.go("POST", `/deployments/${deploymentId}/quick-run`, {
      csrf: await b.csrf(`/deployments/${deploymentId}`),
    });
    const id = started.location!.split("/").at(-1)!;
    const at = new Date().toISOString();
    const line = (level: number, message: string) => ({
      flow_run_id: id,
      task_run_id: null,
      name: "flow",
      level,
      message,
      timestamp: at,
    });
    const lines = Array.from({ length: 6000 }, (_, i) => line(20, `noise ${i}`));
    lines.push(line(40, "THE IMPORTANT ERROR LINE AT THE END"));
    for (let i = 0; i < lines.length; i += 1000) await store.insertLogs(lines.slice(i, i + 1000));
    const page = await b.go("GET", `/runs/${id}`);
    expect(page.text).toContain("Showing the last 5,000 of 6,001 lines.");
    expect(page.text).toContain("THE IMPORTANT ERROR LINE AT THE END");
    expect(page.text).not.toContain("noise 1000\n");
    expect(page.text).toContain("noise 1001\n");
    const errors = await b.go("GET", `/runs/${id}?level=error`);
    expect(errors.text).toContain("THE IMPORTANT ERROR LINE AT THE END");
    expect(errors.text).not.toContain("noise");
    expect(errors.text).not.toContain("Showing the last");
    const critical = await b.go("GET", `/runs/${id}?level=critical`);
    expect(critical.text).toContain("No log lines at this level or above.");
    // A live page's refresh of its other parts reads no log lines.
    const parts = await b.go("GET", `/runs/${id}?parts=1`);
    expect(parts.text).toContain('id="tasks"');
    expect(parts.text).not.toContain("THE IMPORTANT ERROR LINE");
  });
});

describe("UI forms", () => {
  test("a form without the page's CSRF token changes nothing (open mode too)", async () => {
    const b = new Browser(open);
    await b.go("GET", "/deployments");
    const before = await runCount();
    const r = await b.go("POST", `/deployments/${deploymentId}/quick-run`, { csrf: "forged" });
    expect(r.status).toBe(303);
    expect(await runCount()).toBe(before);
    const next = await b.go("GET", r.location!);
    expect(next.text).toContain("The form expired");
    const ok = await b.go("POST", `/deployments/${deploymentId}/quick-run`, {
      csrf: await b.csrf("/deployments"),
    });
    expect(ok.location).toMatch(/^\/runs\//);
    expect(await runCount()).toBe(before + 1);
  });

  test("with auth, pages need a session, and a session can do what its token's scope allows", async () => {
    expect((await new Browser(app).go("GET", "/deployments")).location).toBe("/login?next=%2Fdeployments");
    const reader = new Browser(app);
    const readToken = await addToken("read", "viewer");
    await reader.signIn(readToken);
    const seen = await reader.go("GET", `/deployments/${deploymentId}`);
    expect(seen.status).toBe(200);
    // Who is signed in, and the actions the scope cannot take are not offered (the API refuses
    // them anyway, below).
    expect(seen.text).toContain('<body class="scope-read">');
    expect(seen.text).toContain("viewer (read token)");
    expect(seen.text).toContain(
      "Signed in with a read token: it sees everything but secrets and changes nothing",
    );
    expect(seen.text).toMatch(
      /<form method="post" action="\/deployments\/[^"]+\/quick-run" class="inline act"/,
    );
    const before = await runCount();
    const refused = await reader.go("POST", `/deployments/${deploymentId}/quick-run`, {
      csrf: await reader.csrf(`/deployments/${deploymentId}`),
    });
    expect(await runCount()).toBe(before);
    const shown = await reader.go("GET", refused.location!);
    expect(shown.text).toContain("a read token may not POST /api/deployments/:id/runs");
    const deployer = new Browser(app);
    await deployer.signIn(await addToken("deploy"));
    const pools = await deployer.go("GET", "/work-pools");
    expect(pools.text).toContain('<body class="scope-deploy">');
    expect(pools.text).toMatch(/action="\/work-pools\/local\/(pause|resume)" class="inline act admin"/);
    const started = await deployer.go("POST", `/deployments/${deploymentId}/quick-run`, {
      csrf: await deployer.csrf(`/deployments/${deploymentId}`),
    });
    expect(started.location).toMatch(/^\/runs\//);
    expect(await runCount()).toBe(before + 1);
    // a session's token is the session's only: another browser's CSRF token does not work
    const crossed = await deployer.go("POST", `/deployments/${deploymentId}/quick-run`, {
      csrf: await reader.csrf(`/deployments/${deploymentId}`),
    });
    expect(await runCount()).toBe(before + 1);
    expect((await deployer.go("GET", crossed.location!)).text).toContain("The form expired");
  });

  test("signing in survives the browser's own requests, and goes back to the page asked for", async () => {
    const b = new Browser(app);
    // The page asked for, filters kept; a form post is not one to come back to.
    const asked = await b.go("GET", "/deployments?tag=demo");
    expect(asked.location).toBe("/login?next=%2Fdeployments%3Ftag%3Ddemo");
    const csrf = await b.csrf(asked.location!);
    // The icon a browser fetches by itself while the form is on screen: no page, no new form.
    expect((await b.go("GET", "/favicon.ico")).status).toBe(204);
    expect(await b.csrf("/login")).toBe(csrf);
    const page = await b.go("GET", "/login?next=%2Fdeployments%3Ftag%3Ddemo");
    const next = /name="next" value="([^"]+)"/.exec(page.text)?.[1];
    expect(next).toBe("/deployments?tag=demo");
    const r = await b.go("POST", "/login", { csrf, token: ADMIN, next: next! });
    expect([r.status, r.location]).toEqual([303, "/deployments?tag=demo"]);
    // Never another site.
    for (const away of [
      "//evil.example/x",
      "https://evil.example/",
      "/\\evil.example",
      "/\t/evil.example",
      "/\r\nx: y",
    ]) {
      const other = new Browser(app);
      const token = await other.csrf("/login");
      const went = await other.go("POST", "/login", { csrf: token, token: ADMIN, next: away });
      expect(went.location).toBe("/");
    }
  });

  test("a revoked token's session ends; a run's token cannot sign in", async () => {
    const token = await addToken("deploy", "to-revoke");
    const b = new Browser(app);
    await b.signIn(token);
    expect((await b.go("GET", "/deployments")).status).toBe(200);
    await store.revokeToken("to-revoke");
    await Bun.sleep(5100); // the token cache's lifetime
    expect((await b.go("GET", "/deployments")).location).toBe("/login?next=%2Fdeployments");
    const runToken = newToken();
    await store.createToken({
      name: "run-x",
      scope: "run",
      hash: tokenHash(runToken),
      workPoolName: null,
      flowRunId: null,
      expires: null,
    });
    const r = new Browser(app);
    const csrf = await r.csrf("/login");
    const page = await r.go("POST", "/login", { csrf, token: runToken });
    expect(page.text).toContain("own token cannot sign in");
    expect((await r.go("GET", "/deployments")).location).toBe("/login?next=%2Fdeployments");
  }, 20_000);

  test("secret fields never reach the browser, and the API takes no caller from a request", async () => {
    const admin = new Browser(app);
    await admin.signIn(ADMIN);
    const csrf = await admin.csrf("/blocks/new?type=secret");
    const made = await admin.go("POST", "/blocks/new?type=secret", {
      csrf,
      name: "k",
      "field.value": "TOPSECRET-1",
    });
    expect(made.location).toBe("/blocks/secret/k");
    for (const path of ["/blocks", "/blocks/secret/k"])
      expect((await admin.go("GET", path)).text).not.toContain("TOPSECRET-1");
    // the UI's in-process caller cannot be sent over the network: headers and query mean nothing
    const r = await app.request("/api/blocks/secret/k?include_secrets=true&weirUiCaller=admin", {
      headers: { host: "127.0.0.1", "x-weir-ui-caller": "admin" },
    });
    expect(r.status).toBe(401);
  });
});
