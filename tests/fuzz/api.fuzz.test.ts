// Property-based fuzzing of every API route of the compiled server: bodies generated from each
// route's schema plus hostile mutations (deep nesting, huge strings, wrong types, NUL, invalid
// UTF-8, unknown ids), random queries and path parameters. It must hold that no request gets a
// 5xx, that the server answers /api/health within 1 s afterwards, and that a refused request
// (4xx) changed nothing in the database. `npm test` runs a short fixed-seed pass; `npm run fuzz`
// a long random one (WEIR_FUZZ_RUNS, WEIR_FUZZ_SEED).
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { Env, type Service } from "../e2e/harness.ts";
import { body, type FuzzRequest, query } from "./arbitraries.ts";

const RUNS = Number(process.env.WEIR_FUZZ_RUNS ?? 600);
const SEED = process.env.WEIR_FUZZ_SEED ? Number(process.env.WEIR_FUZZ_SEED) : RUNS > 5000 ? Date.now() : 42;
setDefaultTimeout(Math.max(120_000, RUNS * 200));

let env: Env;
let server: Service;
let db: Database;
let doc: { paths: Record<string, Record<string, { requestBody?: any }>> };
const ids = { deployment: "", run: "", taskRun: "", schedule: "" };
const stats = { requests: 0, status: new Map<number, number>(), fiveXX: 0 };

const api = (method: string, path: string, json?: unknown) =>
  fetch(`http://127.0.0.1:${env.port}${path}`, {
    method,
    headers: json === undefined ? {} : { "content-type": "application/json" },
    body: json === undefined ? undefined : JSON.stringify(json),
  });

/** The things requests can name: an existing deployment, run, task run, schedule, pool, block and variable. */
async function fixtures(): Promise<void> {
  await api("POST", "/api/work-pools?if_missing=true", { name: "local" });
  const d = (await (
    await api("PUT", "/api/deployments", {
      flow_name: "fuzz",
      name: "base",
      work_pool_name: "local",
      schedules: [{ schedule: { interval: 3600 }, slug: "hourly" }],
    })
  ).json()) as any;
  ids.deployment = d.deployment.id;
  ids.schedule = d.deployment.schedules[0]?.id ?? "";
  const run = (await (await api("POST", `/api/deployments/${ids.deployment}/runs`, {})).json()) as any;
  ids.run = run.id;
  await api("POST", `/api/flow-runs/${ids.run}/set_state`, { type: "RUNNING" });
  ids.taskRun = crypto.randomUUID();
  await api("POST", "/api/task-runs", {
    id: ids.taskRun,
    flow_run_id: ids.run,
    name: "t",
    task_key: "t",
    state: { type: "RUNNING" },
  });
  await api("POST", "/api/blocks?overwrite=true", { type: "json", name: "base", data: { value: { a: 1 } } });
  await api("PUT", "/api/variables/base", { value: 1 });
}

/** Everything in the database, as one hash: a refused request must leave it unchanged. */
function digest(): number | bigint {
  const tables = db
    .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((t) => t.name);
  const text = tables
    .map((t) => `${t}:${JSON.stringify(db.query(`SELECT * FROM "${t}" ORDER BY rowid`).all())}`)
    .join("\n");
  return Bun.hash(text);
}

function pathParam(name: string, route: string): fc.Arbitrary<string> {
  const hostile = fc.oneof(
    fc.uuid(),
    fc.constantFrom("", "%00", "x".repeat(300), "..", "%2F", "💥", "nope", "-1"),
    fc.string({ maxLength: 12 }).map(encodeURIComponent),
  );
  const known: Record<string, string[]> = {
    id: route.startsWith("/api/flow-runs")
      ? [ids.run]
      : route.startsWith("/api/task-runs")
        ? [ids.taskRun]
        : [ids.deployment],
    schedule: [ids.schedule, "hourly"],
    name: route.startsWith("/api/variables") ? ["base"] : route.includes("/name/") ? ["base"] : ["local"],
    flow: ["fuzz"],
    type: ["json"],
  };
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...(known[name] ?? ["x"])) },
    { weight: 2, arbitrary: hostile },
  );
}

function requests(): fc.Arbitrary<FuzzRequest> {
  const routes: fc.Arbitrary<FuzzRequest>[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      const hasBody = method !== "get" && method !== "delete";
      routes.push(
        fc
          .tuple(
            fc.tuple(...names.map((n) => pathParam(n, path))),
            fc.option(query, { nil: undefined }),
            hasBody ? fc.option(body(schema), { nil: undefined, freq: 8 }) : fc.constant(undefined),
          )
          .map(([params, q, b]) => {
            let url = path;
            names.forEach((n, i) => {
              url = url.replace(`{${n}}`, params[i] ?? "");
            });
            // a claim may wait up to a minute: keep fuzzed long polls short
            if (path.endsWith("/claim") && b && "json" in b && b.json && typeof b.json === "object")
              (b.json as Record<string, unknown>).wait_ms = 0;
            // and a run's wait (30 s by default) too, unless the fuzzed query sets its own
            const waits = path.endsWith("/wait") && !q?.includes("timeout_ms=");
            const query = waits ? `timeout_ms=0${q ? `&${q}` : ""}` : q;
            return {
              method: method.toUpperCase(),
              path: query ? `${url}?${query}` : url,
              body: b,
              what: `${method.toUpperCase()} ${path}`,
            };
          }),
      );
    }
  }
  return fc.oneof(...routes);
}

async function send(r: FuzzRequest): Promise<Response> {
  const init: RequestInit = { method: r.method };
  if (r.body) {
    init.headers = { "content-type": "application/json" };
    init.body = "raw" in r.body ? r.body.raw : JSON.stringify(r.body.json);
  }
  return fetch(`http://127.0.0.1:${env.port}${r.path}`, init);
}

async function healthyWithinOneSecond(): Promise<void> {
  const res = await fetch(`${env.apiUrl}/health`, { signal: AbortSignal.timeout(1000) });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  env = new Env();
  server = await env.startServer(["--no-scheduler"], { WEIR_AGENT_TIMEOUT_SECONDS: "86400" });
  db = new Database(join(env.home, "weir.db"), { readonly: true });
  doc = (await (await api("GET", "/api/openapi.json")).json()) as typeof doc;
  await fixtures();
});
afterAll(async () => {
  db?.close();
  await env.dispose();
});

describe("API fuzz (compiled server)", () => {
  test(`${RUNS} generated requests: no 5xx, refused ones change nothing, health answers after`, async () => {
    await fc.assert(
      fc.asyncProperty(requests(), async (r) => {
        stats.requests++;
        if (stats.requests % 150 === 0) await fixtures();
        const before = r.method === "GET" ? 0 : digest();
        const res = await send(r);
        const text = await res.text();
        stats.status.set(res.status, (stats.status.get(res.status) ?? 0) + 1);
        if (res.status >= 500) {
          stats.fiveXX++;
          throw new Error(`${r.method} ${r.path} answered ${res.status}: ${text.slice(0, 300)}`);
        }
        if (res.status >= 400 && r.method !== "GET" && digest() !== before)
          throw new Error(
            `${r.method} ${r.path} was refused (${res.status}) but changed the database: ${text.slice(0, 300)}`,
          );
        if (stats.requests % 100 === 0) await healthyWithinOneSecond();
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // one body over the size limit and one deeply nested body, whatever the generator chose
    const huge = await fetch(`${env.apiUrl}/variables/huge`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: "x".repeat(17 * 1024 * 1024) }),
    });
    expect(huge.status).toBe(413);
    await healthyWithinOneSecond();
    const status = readFileSync(`/proc/${server.proc.pid}/status`, "utf8");
    const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    console.log(
      `fuzz: ${stats.requests} requests (seed ${SEED}), 5xx: ${stats.fiveXX}, statuses ${JSON.stringify(Object.fromEntries([...stats.status].sort((a, b) => a[0] - b[0])))}, server peak RSS ${(peakKb / 1024).toFixed(1)} MB`,
    );
    expect(stats.fiveXX).toBe(0);
  });
});
