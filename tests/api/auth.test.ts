// Tokens and scopes on every route: the table below is written out by hand (not imported from
// core/auth), so a route whose access changes, or a new route, makes this test fail until someone
// decides who may call it. Also: 401 without or with a bad, revoked or expired token; a read token
// and secrets; pool-bound agent tokens; run tokens; the browser guard of open mode.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp, Wakeups } from "../../core/api/index.ts";
import { Authenticator, newToken, tokenHash } from "../../core/auth/index.ts";
import { registry, tempStore } from "../helpers.ts";

const WHO: Record<string, string[]> = {
  public: ["admin", "deploy", "agent", "read"],
  read: ["admin", "deploy", "agent", "read"],
  deploy: ["admin", "deploy"],
  // and run tokens for subflow runs of their own run (checked in the run token tests)
  start: ["admin", "deploy"],
  agent: ["admin", "agent"],
  report: ["admin", "deploy", "agent"],
  admin: ["admin"],
};

// Every route and who may call it (the scope it needs).
const EXPECTED: [string, keyof typeof WHO][] = [
  ["GET /api/health", "public"],
  ["GET /api/ready", "public"],
  ["GET /api/whoami", "read"],
  ["GET /api/flows", "read"],
  ["POST /api/flow-runs", "start"],
  ["GET /api/flow-runs", "read"],
  ["GET /api/flow-runs/:id", "read"],
  ["GET /api/flow-runs/:id/states", "read"],
  ["GET /api/flow-runs/:id/wait", "read"],
  ["GET /api/flow-runs/:id/result", "read"],
  ["POST /api/flow-runs/:id/set_state", "report"],
  ["POST /api/flow-runs/:id/retry", "deploy"],
  ["POST /api/flow-runs/:id/cancel", "deploy"],
  ["GET /api/flow-runs/:id/logs", "read"],
  ["GET /api/flow-runs/:id/task-runs", "read"],
  ["POST /api/logs", "report"],
  ["POST /api/task-runs/snapshots", "report"],
  ["GET /api/flow-runs/:id/execution", "report"],
  ["POST /api/task-runs", "report"],
  ["POST /api/task-runs/:id/set_state", "report"],
  ["PUT /api/deployments", "deploy"],
  ["GET /api/deployments", "read"],
  ["GET /api/deployments/:id", "read"],
  ["PATCH /api/deployments/:id", "deploy"],
  ["GET /api/deployments/name/:flow/:name", "read"],
  ["DELETE /api/deployments/:id", "deploy"],
  ["POST /api/deployments/:id/pause", "deploy"],
  ["POST /api/deployments/:id/resume", "deploy"],
  ["POST /api/deployments/:id/runs", "start"],
  ["GET /api/deployments/:id/schedules", "read"],
  ["POST /api/deployments/:id/schedules", "deploy"],
  ["PUT /api/deployments/:id/schedules", "deploy"],
  ["POST /api/deployments/:id/schedules/:schedule/pause", "deploy"],
  ["POST /api/deployments/:id/schedules/:schedule/resume", "deploy"],
  ["DELETE /api/deployments/:id/schedules/:schedule", "deploy"],
  ["DELETE /api/deployments/:id/schedules", "deploy"],
  ["POST /api/deployments/:id/pause-schedule", "deploy"],
  ["POST /api/deployments/:id/resume-schedule", "deploy"],
  ["POST /api/work-pools", "admin"],
  ["PATCH /api/work-pools/:name", "admin"],
  ["GET /api/work-pools", "read"],
  ["GET /api/work-pools/:name", "read"],
  ["GET /api/work-pool-types/:type/base-job-template", "read"],
  ["DELETE /api/work-pools/:name", "admin"],
  ["POST /api/work-pools/:name/pause", "admin"],
  ["POST /api/work-pools/:name/resume", "admin"],
  ["POST /api/work-pools/:name/queues", "admin"],
  ["PATCH /api/work-pools/:name/queues/:queue", "admin"],
  ["DELETE /api/work-pools/:name/queues/:queue", "admin"],
  ["GET /api/concurrency-limits", "read"],
  ["GET /api/concurrency-limits/:tag", "read"],
  ["PUT /api/concurrency-limits/:tag", "admin"],
  ["DELETE /api/concurrency-limits/:tag", "admin"],
  ["POST /api/work-pools/:name/claim", "agent"],
  ["POST /api/agents/heartbeat", "agent"],
  ["GET /api/agents", "read"],
  ["GET /api/block-types", "read"],
  ["POST /api/blocks", "admin"],
  ["GET /api/blocks", "read"],
  ["GET /api/blocks/:type/:name", "read"],
  ["PATCH /api/blocks/:type/:name", "admin"],
  ["DELETE /api/blocks/:type/:name", "admin"],
  ["GET /api/variables", "read"],
  ["GET /api/variables/:name", "read"],
  ["PUT /api/variables/:name", "admin"],
  ["DELETE /api/variables/:name", "admin"],
  ["POST /api/tokens", "admin"],
  ["GET /api/tokens", "admin"],
  ["POST /api/tokens/:name/revoke", "admin"],
];

const ADMIN = newToken();
let store: Awaited<ReturnType<typeof tempStore>>;
let app: Hono;
const tokens: Record<string, string> = { admin: ADMIN };
let runA: string;
let runB: string;

async function call(
  method: string,
  path: string,
  token: string | null,
  body: unknown = {},
  extra: Record<string, string> = {},
) {
  const res = await app.request(path, {
    method,
    headers: {
      ...(method === "GET" ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...extra,
    },
    body: method === "GET" ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json().catch(() => null)) as any };
}

async function addToken(
  name: string,
  scope: string,
  o: { pool?: string; run?: string; expires?: string } = {},
) {
  const token = newToken();
  await store.createToken({
    name,
    scope,
    hash: tokenHash(token),
    workPoolName: o.pool ?? null,
    flowRunId: o.run ?? null,
    expires: o.expires ?? null,
  });
  return token;
}

beforeAll(async () => {
  store = await tempStore();
  app = createApp({
    store,
    wakeups: new Wakeups(),
    version: "test",
    registry,
    auth: new Authenticator(store, ADMIN),
    allowedHosts: null,
  });
  for (const pool of ["local", "other"])
    expect((await call("POST", "/api/work-pools", ADMIN, { name: pool, type: "process" })).status).toBe(201);
  const runs: string[] = [];
  for (const pool of ["local", "other"]) {
    const d = await call("PUT", "/api/deployments", ADMIN, {
      flow_name: "f",
      name: pool,
      entrypoint: "f.ts:f",
      work_pool_name: pool,
    });
    expect(d.status).toBe(201);
    const r = await call("POST", `/api/deployments/${d.json.deployment.id}/runs`, ADMIN, {});
    expect(r.status).toBe(201);
    runs.push(r.json.id);
  }
  [runA, runB] = runs as [string, string];
  tokens.deploy = await addToken("ci", "deploy");
  tokens.agent = await addToken("agent", "agent");
  tokens.read = await addToken("viewer", "read");
});
afterAll(() => store.dispose());

const fill = (path: string) =>
  path.replace(":id", "01a00000-0000-7000-8000-000000000000").replace(/:(\w+)/g, (_, n) => `x-${n}`);

describe("every route × every scope", () => {
  test("the table above names every API route the server has", () => {
    const served = app.routes
      // The API description and the redirects to it are not routes of the table (public by design).
      .filter(
        (r) =>
          r.path.startsWith("/api/") &&
          r.method !== "ALL" &&
          r.path !== "/api/openapi.json" &&
          r.path !== "/api/",
      )
      .map((r) => `${r.method} ${r.path}`);
    expect([...new Set(served)].sort()).toEqual(EXPECTED.map(([k]) => k).sort());
  });

  test("no token: 401 on every route but /api/health and /api/ready; the OpenAPI document is public", async () => {
    for (const [key] of EXPECTED) {
      const [method, path] = key.split(" ") as [string, string];
      const r = await call(method, fill(path), null);
      if (path === "/api/health" || path === "/api/ready") expect(r.status).toBe(200);
      else expect([key, r.status]).toEqual([key, 401]);
    }
    // The API's description is public (routes and shapes, no data), as Prefect's is, and the
    // address the server prints (/api) leads to it.
    expect((await call("GET", "/api/openapi.json", null)).status).toBe(200);
    for (const path of ["/api", "/api/"]) {
      const api = await app.request(`http://localhost${path}`);
      expect([path, api.status, api.headers.get("location")]).toEqual([path, 302, "/api/openapi.json"]);
    }
    expect((await call("GET", "/api/openapi.json", tokens.read!)).status).toBe(200);
  });

  for (const scope of ["admin", "deploy", "agent", "read"]) {
    test(`a ${scope} token: 403 exactly where its scope does not reach`, async () => {
      for (const [key, access] of EXPECTED) {
        const [method, path] = key.split(" ") as [string, string];
        if (key === "POST /api/tokens/:name/revoke") continue; // would revoke; checked below
        const r = await call(method, fill(path), tokens[scope]!);
        const allowed = WHO[access]!.includes(scope);
        expect([key, allowed ? r.status !== 403 && r.status !== 401 : r.status]).toEqual([
          key,
          allowed ? true : 403,
        ]);
        if (!allowed)
          expect(r.json.error.message).toContain(
            `--scope ${access === "report" ? "agent" : access === "start" ? "deploy" : access}`,
          );
      }
    });
  }
});

describe("tokens", () => {
  test("a revoked token and an expired one are refused with 401", async () => {
    const t = await addToken("short-lived", "read");
    expect((await call("GET", "/api/flows", t)).status).toBe(200);
    expect((await call("POST", "/api/tokens/short-lived/revoke", ADMIN)).status).toBe(200);
    const r = await call("GET", "/api/flows", t);
    expect(r.status).toBe(401);
    expect(r.json.error.message).toContain("unknown, revoked or expired");
    const old = await addToken("expired", "read", { expires: new Date(Date.now() - 1000).toISOString() });
    expect((await call("GET", "/api/flows", old)).status).toBe(401);
  });

  test("a lifetime past any date is refused (422), not a 500", async () => {
    const r = await call("POST", "/api/tokens", ADMIN, {
      name: "forever",
      scope: "read",
      expires_in_seconds: 1e300,
    });
    expect(r.status).toBe(422);
    expect(r.json.error.message).toContain("must be at most 100 years");
  });

  test("tokens are listed without values or hashes; the database holds only hashes", async () => {
    const created = await call("POST", "/api/tokens", ADMIN, { name: "listed", scope: "read" });
    expect(created.status).toBe(201);
    expect(created.json.token).toMatch(/^weir_[A-Za-z0-9_-]{43}$/);
    const list = await call("GET", "/api/tokens", ADMIN);
    expect(JSON.stringify(list.json)).not.toContain(created.json.token);
    expect(JSON.stringify(list.json)).not.toContain(tokenHash(created.json.token));
    // On the embedded database, its file's bytes (PostgreSQL: the e2e suite greps nothing there).
    if (process.env.WEIR_TEST_BACKEND !== "postgres") {
      const bytes = Bun.file(`${store.dir}/weir.db`);
      const raw = Buffer.from(await bytes.arrayBuffer()).toString("latin1");
      expect(raw).not.toContain(created.json.token);
    }
  });

  test("failed attempts from one address are rate-limited (429)", async () => {
    const limited = createApp({
      store,
      wakeups: new Wakeups(),
      version: "test",
      auth: new Authenticator(store, ADMIN),
      allowedHosts: null,
    });
    const get = async (token: string | undefined) =>
      (await limited.request("/api/flows", { headers: { authorization: `Bearer ${token}` } })).status;
    // An agent on the same host used its token a moment ago.
    expect(await get(tokens.read)).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push(await get("nope"));
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    // A token this server found valid lately still works from that address (a broken CI job must
    // not lock out the agents beside it); wrong ones, and ones not seen lately (a guess that
    // happens to be right, too), get 429 without an answer about the token.
    expect(await get(tokens.read)).toBe(200);
    expect(await get("nope")).toBe(429);
    expect(await get(tokens.deploy)).toBe(429);
  });
});

describe("secrets, pools and runs", () => {
  test("a read token may not see secret values; an agent token may", async () => {
    await call("POST", "/api/blocks", ADMIN, { type: "secret", name: "pw", data: { value: "hunter2" } });
    const r = await call("GET", "/api/blocks/secret/pw?include_secrets=true", tokens.read!);
    expect(r.status).toBe(403);
    expect(JSON.stringify(r.json)).not.toContain("hunter2");
    const masked = await call("GET", "/api/blocks/secret/pw", tokens.read!);
    expect(JSON.stringify(masked.json)).not.toContain("hunter2");
    const agent = await call("GET", "/api/blocks/secret/pw?include_secrets=true", tokens.agent!);
    expect(agent.json.data.value).toBe("hunter2");
  });

  test("an agent token bound to a pool may claim, heartbeat and report only there", async () => {
    const bound = await addToken("edge", "agent", { pool: "local" });
    const agentId = "01a00000-0000-7000-8000-0000000000a1";
    const other = await call("POST", "/api/work-pools/other/claim", bound, {
      agent_id: agentId,
      limit: 1,
      wait_ms: 0,
    });
    expect(other.status).toBe(403);
    expect(other.json.error.message).toContain('for work pool "local", not "other"');
    const beat = await call("POST", "/api/agents/heartbeat", bound, {
      id: agentId,
      name: "edge",
      work_pool_name: "other",
      work_queues: [],
    });
    expect(beat.status).toBe(403);
    const claim = await call("POST", "/api/work-pools/local/claim", bound, {
      agent_id: agentId,
      limit: 5,
      wait_ms: 0,
    });
    expect(claim.status).toBe(200);
    expect(claim.json.flow_runs.map((r: any) => r.id)).toEqual([runA]);

    // each claimed run comes with a token of its own
    expect(claim.json.tokens[runA]).toMatch(/^weir_/);
    tokens.runA = claim.json.tokens[runA];
    expect(
      (await call("POST", `/api/flow-runs/${runB}/set_state`, bound, { type: "CANCELLED" })).status,
    ).toBe(403);
    const logs = await call("POST", "/api/logs", bound, [
      {
        flow_run_id: runB,
        task_run_id: null,
        name: "x",
        level: 20,
        message: "m",
        timestamp: new Date().toISOString(),
      },
    ]);
    expect(logs.status).toBe(403);
    // Another pool's agent, named by its id: its heartbeat cannot be kept up or stopped from here.
    const otherAgent = "01a00000-0000-7000-8000-0000000000b2";
    const admin = await call("POST", "/api/agents/heartbeat", ADMIN, {
      id: otherAgent,
      name: "far",
      work_pool_name: "other",
      work_queues: [],
    });
    expect(admin.status).toBe(200);
    const hijack = await call("POST", "/api/agents/heartbeat", bound, {
      id: otherAgent,
      name: "far",
      work_pool_name: "local",
      work_queues: [],
      stopping: true,
    });
    expect(hijack.status).toBe(409);
    expect(hijack.json.error.message).toContain("belongs to another work pool");
    const agents = (await call("GET", "/api/agents?pool=other", ADMIN)).json;
    expect(agents.map((a: any) => [a.id, a.stopped])).toEqual([[otherAgent, null]]);
  });

  test("a run's token starts subflow runs of its own run only, and reports and reads for them", async () => {
    const t = tokens.runA!;
    const agentId = "01a00000-0000-7000-8000-0000000000a1";
    const placeholder = "01a00000-0000-7000-8000-0000000000c1";
    const alone = await call("POST", "/api/flow-runs", t, { flow_name: "sub", state: { type: "PENDING" } });
    expect([alone.status, alone.json.error.message]).toEqual([
      403,
      expect.stringContaining("starts runs only as subflows of its own run"),
    ]);
    const elsewhere = { flow_name: "sub", parent_flow_run_id: runB, state: { type: "PENDING" } };
    expect((await call("POST", "/api/flow-runs", t, elsewhere)).status).toBe(403);
    const made = await call("POST", "/api/flow-runs", t, {
      flow_name: "sub",
      state: { type: "PENDING" },
      parent_flow_run_id: runA,
      parent_task_run_id: placeholder,
    });
    expect(made.status).toBe(201);
    const child = made.json;
    // held under the parent's claim
    expect([child.parent_flow_run_id, child.parent_task_run_id, child.agent_id]).toEqual([
      runA,
      placeholder,
      agentId,
    ]);
    const line = [
      {
        flow_run_id: child.id,
        task_run_id: null,
        name: "x",
        level: 20,
        message: "m",
        timestamp: new Date().toISOString(),
      },
    ];
    expect((await call("POST", "/api/logs", t, line)).status).toBe(201);
    expect((await call("GET", `/api/flow-runs/${child.id}`, t)).status).toBe(200);
    expect((await call("GET", `/api/flow-runs/${child.id}/result`, t)).status).toBe(404);
    for (const body of [{ type: "RUNNING" }, { type: "COMPLETED", result: '{"x":1}' }])
      expect(
        (await call("POST", `/api/flow-runs/${child.id}/set_state`, t, { ...body, agent_id: agentId }))
          .status,
      ).toBe(200);
    expect((await call("GET", `/api/flow-runs/${child.id}/result`, t)).json).toEqual({ x: 1 });
    // a finished run starts nothing more
    const late = { flow_name: "sub", parent_flow_run_id: child.id, state: { type: "PENDING" } };
    expect((await call("POST", "/api/flow-runs", t, late)).status).toBe(409);
    // runDeployment: a deployment's run as its subflow (and below that, a grandchild)
    const d = await call("GET", "/api/deployments/name/f/other", t);
    expect(d.status).toBe(200);
    expect((await call("POST", `/api/deployments/${d.json.id}/runs`, t, {})).status).toBe(403);
    const viaDeployment = await call("POST", `/api/deployments/${d.json.id}/runs`, t, {
      parent_flow_run_id: runA,
    });
    expect(viaDeployment.status).toBe(201);
    // ... as deployed: not elsewhere, not with other job variables
    for (const change of [{ job_variables: { env: { X: "1" } } }, { work_queue_name: "default" }]) {
      const r = await call("POST", `/api/deployments/${d.json.id}/runs`, t, {
        parent_flow_run_id: runA,
        ...change,
      });
      expect([r.status, r.json.error.message]).toEqual([403, expect.stringContaining("as deployed")]);
    }
    // an idempotency key does not hand it a run that is not below its own
    const keyed = await call("POST", `/api/deployments/${d.json.id}/runs`, ADMIN, { idempotency_key: "k1" });
    expect(keyed.status).toBe(201);
    const reuse = await call("POST", `/api/deployments/${d.json.id}/runs`, t, {
      parent_flow_run_id: runA,
      idempotency_key: "k1",
    });
    expect(reuse.status).toBe(403);
    const grandchild = {
      flow_name: "sub",
      parent_flow_run_id: viaDeployment.json.id,
      state: { type: "PENDING" },
    };
    expect((await call("POST", "/api/flow-runs", t, grandchild)).status).toBe(201);
    // a result is JSON text, and only a COMPLETED state carries one
    const bad = await call("POST", `/api/flow-runs/${viaDeployment.json.id}/set_state`, ADMIN, {
      type: "CANCELLED",
      result: "1",
    });
    expect([bad.status, bad.json.error.message]).toEqual([
      422,
      expect.stringContaining("only a COMPLETED state"),
    ]);
  });

  test("a run's token reports for its run only and reads nothing else", async () => {
    const t = tokens.runA!;
    const line = (id: string) => [
      {
        flow_run_id: id,
        task_run_id: null,
        name: "x",
        level: 20,
        message: "m",
        timestamp: new Date().toISOString(),
      },
    ];
    expect((await call("POST", "/api/logs", t, line(runA))).status).toBe(201);
    expect((await call("POST", "/api/logs", t, line(runB))).status).toBe(403);
    expect((await call("GET", `/api/flow-runs/${runA}/execution`, t)).status).toBe(200);
    expect((await call("GET", `/api/flow-runs/${runB}`, t)).status).toBe(403);
    expect((await call("GET", "/api/flow-runs", t)).status).toBe(403);
    expect((await call("PUT", "/api/variables/x", t, { value: 1 })).status).toBe(403);
    expect(
      (
        await call("POST", "/api/work-pools/local/claim", t, {
          agent_id: "01a00000-0000-7000-8000-0000000000a2",
          limit: 1,
          wait_ms: 0,
        })
      ).status,
    ).toBe(403);
    // its final state ends it
    for (const type of ["RUNNING", "COMPLETED"])
      expect(
        (
          await call("POST", `/api/flow-runs/${runA}/set_state`, t, {
            type,
            agent_id: "01a00000-0000-7000-8000-0000000000a1",
          })
        ).status,
      ).toBe(200);
    expect((await call("GET", `/api/flow-runs/${runA}`, t)).status).toBe(401);
  });

  test("a pool's agent token and a run's token read the secret values only of blocks they use", async () => {
    for (const name of ["in-pull", "in-jv", "in-param", "unrelated"])
      await call("POST", "/api/blocks", ADMIN, { type: "secret", name, data: { value: `v-${name}` } });
    const d = await call("PUT", "/api/deployments", ADMIN, {
      flow_name: "f",
      name: "uses",
      entrypoint: "f.ts:f",
      work_pool_name: "local",
      pull_steps: [
        { "weir.steps.set_working_directory": { directory: "{{ prefect.blocks.secret.in-pull }}" } },
      ],
      job_variables: { env: { TOKEN: "{{ weir.blocks.secret.in-jv }}" } },
    });
    expect(d.status).toBe(201);
    const bound = await addToken("edge-secrets", "agent", { pool: "local" });
    const otherPool = await addToken("other-secrets", "agent", { pool: "other" });
    const read = (token: string, name: string) =>
      call("GET", `/api/blocks/secret/${name}?include_secrets=true`, token);
    for (const name of ["in-pull", "in-jv"])
      expect((await read(bound, name)).json.data.value).toBe(`v-${name}`);
    const refused = await read(bound, "unrelated");
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toContain(
      'this agent token (work pool "local") may read the secret values only of blocks its pool\'s template, deployments and started runs name; block secret/unrelated is not one of them',
    );
    expect(JSON.stringify(refused.json)).not.toContain("v-unrelated");
    expect((await read(otherPool, "in-pull")).status).toBe(403);
    // Listed, the blocks it may not open stay masked.
    const listed = await call("GET", "/api/blocks?include_secrets=true", bound);
    expect(listed.status).toBe(200);
    const text = JSON.stringify(listed.json);
    expect(text).toContain("v-in-pull");
    expect(text).not.toContain("v-unrelated");
    expect(text).not.toContain("hunter2");
    // An agent token for every pool, and deploy tokens, read any.
    expect((await read(tokens.agent!, "unrelated")).json.data.value).toBe("v-unrelated");
    expect((await read(tokens.deploy!, "unrelated")).json.data.value).toBe("v-unrelated");

    const run = await call("POST", `/api/deployments/${d.json.deployment.id}/runs`, ADMIN, {
      parameters: { key: "{{ prefect.blocks.secret.in-param }}" },
    });
    expect(run.status).toBe(201);
    const claim = await call("POST", "/api/work-pools/local/claim", bound, {
      agent_id: "01a00000-0000-7000-8000-0000000000a3",
      limit: 5,
      wait_ms: 0,
    });
    const runToken = claim.json.tokens[run.json.id] as string;
    expect(runToken).toMatch(/^weir_/);
    for (const name of ["in-pull", "in-jv", "in-param"])
      expect((await read(runToken, name)).json.data.value).toBe(`v-${name}`);
    const notIts = await read(runToken, "unrelated");
    expect(notIts.status).toBe(403);
    expect(notIts.json.error.message).toContain(
      `this run's token (flow run ${run.json.id}) may read the secret values only of blocks its run's parameters, job variables and pull steps name`,
    );
    // Nor can it reach one through a run it starts: the blocks a child's parameters name must be
    // ones the run itself may open.
    const child = (key: string) =>
      call("POST", `/api/deployments/${d.json.deployment.id}/runs`, runToken, {
        parent_flow_run_id: run.json.id,
        parameters: { key },
      });
    const smuggled = await child("{{ weir.blocks.secret.unrelated }}");
    expect(smuggled.status).toBe(403);
    expect(smuggled.json.error.message).toContain(
      "a run's token may pass in parameters only the blocks its own run uses; block secret/unrelated is not one of them",
    );
    expect((await child("{{ prefect.blocks.secret.in-param }}")).status).toBe(201);
  });
});

describe("open mode in a browser", () => {
  const open = () => createApp({ store, wakeups: new Wakeups(), version: "test", registry });

  test("a cross-site form or text/plain fetch cannot write; JSON from the same origin can", async () => {
    const a = open();
    const plain = await a.request("http://localhost/api/variables/x", {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ value: 1 }),
    });
    expect(plain.status).toBe(415);
    const form = await a.request("http://localhost/api/deployments/x/runs", { method: "POST" });
    expect(form.status).toBe(415);
    const cross = await a.request("http://localhost/api/variables/x", {
      method: "PUT",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: JSON.stringify({ value: 1 }),
    });
    expect(cross.status).toBe(403);
    expect(cross.headers.get("access-control-allow-origin")).toBeNull();
    const ok = await a.request("http://localhost/api/variables/x", {
      method: "PUT",
      headers: { "content-type": "application/json", origin: "http://localhost" },
      body: JSON.stringify({ value: 1 }),
    });
    expect(ok.status).toBe(200);
  });

  test("a request addressed to another host name (DNS rebinding) is refused", async () => {
    const r = await open().request("http://rebind.evil.example:4200/api/flows");
    expect(r.status).toBe(403);
    expect(((await r.json()) as any).error.message).toContain("DNS rebinding");
    expect((await open().request("http://127.0.0.1:4200/api/flows")).status).toBe(200);
  });
});
