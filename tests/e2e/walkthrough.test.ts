// The README walkthrough, driven through the compiled binary as a new user would run it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Env, HELLO_FLOW, HELLO_YAML } from "./harness.ts";

setDefaultTimeout(60_000);

let env: Env;
let project: string;
let runId = "";

beforeAll(async () => {
  env = new Env();
  project = env.project("my-project", { "flows/hello.ts": HELLO_FLOW, "weir.yaml": HELLO_YAML });
  await env.startServer();
  await env.startAgent("local");
});
afterAll(() => env.dispose());

describe("walkthrough", () => {
  test("weir --help and --version answer without a server", async () => {
    const help = await env.cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("deploy");
    expect(help.stdout).toContain("flow-run");
    expect((await env.cli(["--version"])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  test("every command has --help", async () => {
    for (const args of [
      ["server"],
      ["agent"],
      ["deploy"],
      ["deployment", "run"],
      ["flow-run", "logs"],
      ["run"],
      ["work-pool", "create"],
    ]) {
      const r = await env.cli([...args, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Usage: weir");
    }
  });

  test("the server serves the UI, health and the OpenAPI document", async () => {
    expect(await fetch(`${env.apiUrl}/health`).then((r) => r.json() as Promise<any>)).toMatchObject({
      status: "ok",
    });
    expect(
      Object.keys((await fetch(`${env.apiUrl}/openapi.json`).then((r) => r.json() as Promise<any>)).paths)
        .length,
    ).toBeGreaterThan(20);
    const page = await fetch(`http://127.0.0.1:${env.port}/`).then((r) => r.text());
    expect(page).toContain("<title>Flow runs · Weir</title>");
    // The embedded database is a file in WEIR_HOME (unless the suites run on PostgreSQL).
    expect(existsSync(join(env.home, "weir.db"))).toBe(env.database === null);
  });

  test("weir deploy --all registers the deployment and says what to do next", async () => {
    const r = await env.cli(["deploy", "--all"], { cwd: project });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ hello\/daily created \(id [0-9a-f-]{36}\)/);
    expect(r.stdout).toContain("weir deployment run 'hello/daily' --watch");
    // an agent polls pool "local" already, so it is not suggested again
    expect(r.stdout).not.toContain("start an agent");
  });

  test("work-pool inspect shows the pool, its queues and agents; --json for scripts", async () => {
    const r = await env.cli(["work-pool", "inspect", "local"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Work pool\s+local\n/);
    expect(r.stdout).toMatch(/Type\s+process/);
    expect(r.stdout).toMatch(/default\s+\d+\s+-\s+no/);
    expect(r.stdout).toMatch(/LAST HEARTBEAT\n\S+\s+ONLINE\s+all\s+\d+s ago/);
    expect(() => JSON.parse(r.stdout)).toThrow();
    const pool = await env.json(["work-pool", "inspect", "local"]);
    expect(pool).toMatchObject({ name: "local", type: "process", is_paused: false });
  });

  test("deployment run --watch prints states as they happen and exits 0 on Completed", async () => {
    const r = await env.cli(["deployment", "run", "hello/daily", "--param", "name=Ada", "--watch"], {
      cwd: project,
    });
    expect(r.code).toBe(0);
    const id = r.stdout.match(/Created flow run \S+ \(([0-9a-f-]{36})\)/);
    expect(id).not.toBeNull();
    runId = id![1]!;
    const order = ["→ Scheduled", "→ Pending", "→ Running", "hello Ada", "→ Completed"].map((s) =>
      r.stdout.indexOf(s),
    );
    for (const i of order) expect(i).toBeGreaterThanOrEqual(0);
    expect(order.indexOf(-1)).toBe(-1);
    expect(r.stdout.indexOf("→ Pending")).toBeLessThan(r.stdout.indexOf("→ Completed"));
  });

  test("flow-run logs prints the flow's log lines", async () => {
    const r = await env.cli(["flow-run", "logs", runId]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("INFO    hello Ada");
  });

  test("a run is found by the name ls shows as well as by its id; a shared name asks for the id", async () => {
    const { name } = await env.json(["flow-run", "inspect", runId]);
    const byName = await env.cli(["flow-run", "logs", name]);
    expect([byName.code, byName.stdout]).toEqual([0, (await env.cli(["flow-run", "logs", runId])).stdout]);
    expect((await env.json(["flow-run", "inspect", name])).id).toBe(runId);
    const missing = await env.cli(["flow-run", "inspect", "no-such-run"]);
    expect([missing.code, missing.stderr.trim()]).toEqual([
      1,
      'weir: No flow run has the id or name "no-such-run" (list runs with: weir flow-run ls)',
    ]);
    const { id: deployment } = await env.json(["deployment", "inspect", "hello/daily"]);
    const twins: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${env.apiUrl}/deployments/${deployment}/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "twin-run", parameters: { name: "Twin" } }),
      });
      twins.push(((await res.json()) as { id: string }).id);
    }
    // The same idempotency key gives back the first run, and says so.
    const keyed = ["deployment", "run", "hello/daily", "--idempotency-key", "walk-1"];
    const first = await env.cli([...keyed, "--param", "name=First"]);
    expect(first.stdout).toMatch(/^Created flow run \S+ \(([0-9a-f-]{36})\) of hello\/daily$/m);
    const firstId = first.stdout.match(/\(([0-9a-f-]{36})\)/)![1];
    const again = await env.cli([...keyed, "--param", "name=Second"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      `(${firstId}) of hello/daily already has idempotency key "walk-1": no new run (it keeps its own parameters; it is `,
    );
    expect(again.stdout).not.toContain("Created flow run");
    const shared = await env.cli(["flow-run", "cancel", "twin-run"]);
    expect(shared.code).toBe(2);
    expect(shared.stderr).toContain('2 flow runs are named "twin-run": give the id of one (');
    for (const id of twins) expect(shared.stderr).toContain(id);
  });

  test("deployment ls / inspect --json / flow-run ls / flow-run inspect --json", async () => {
    const ls = await env.cli(["deployment", "ls"]);
    expect(ls.stdout).toContain("hello/daily");
    const human = await env.cli(["deployment", "inspect", "hello/daily"]);
    expect(human.stdout).toMatch(/Deployment\s+hello\/daily/);
    expect(human.stdout).toMatch(/Pool \/ queue\s+local \/ default/);
    const runHuman = await env.cli(["flow-run", "inspect", runId]);
    expect(runHuman.stdout).toMatch(/State\s+Completed/);
    expect(runHuman.stdout).toContain("greet");
    const d = await env.json(["deployment", "inspect", "hello/daily"]);
    expect(d.parameters).toEqual({ name: "World" });
    expect(d.parameter_openapi_schema.properties.name).toEqual({ type: "string" });
    expect(d.parameter_openapi_schema.required).toEqual(["name"]);
    expect(d.work_pool_name).toBe("local");
    expect(d.pull_steps).toEqual([{ "weir.steps.set_working_directory": { directory: project } }]);
    const runs = await env.json(["flow-run", "ls"]);
    expect(runs.map((x: { id: string }) => x.id)).toContain(runId);
    const run = await env.json(["flow-run", "inspect", runId]);
    expect(run.state.type).toBe("COMPLETED");
    expect(run.parameters).toEqual({ name: "Ada" });
    expect(
      run.task_runs.map((t: { name: string; state: { type: string } }) => [t.name, t.state.type]),
    ).toEqual([["greet", "COMPLETED"]]);
    expect(run.state_history.map((s: { type: string }) => s.type)).toEqual([
      "SCHEDULED",
      "PENDING",
      "RUNNING",
      "COMPLETED",
    ]);
    // DURATION is the time it spent Running, as the UI shows it.
    const row = (await env.cli(["flow-run", "ls", "--limit", "100"])).stdout
      .split("\n")
      .find((l) => l.includes(runId));
    expect(row).toContain(` ${(run.total_run_time / 1000).toFixed(2)}s `);
  });

  test("weir run executes a flow locally and is tracked by the API", async () => {
    const r = await env.cli(["run", "flows/hello.ts:hello", "--param", "name=Ada", "--param", "times=2"], {
      cwd: project,
    });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/hello Ada/g)?.length).toBe(2);
    const tracked = r.stderr.match(/Tracking as flow run \S+ \(([0-9a-f-]{36})\)/);
    expect(tracked).not.toBeNull();
    const run = await fetch(`${env.apiUrl}/flow-runs/${tracked![1]}`).then((x) => x.json() as Promise<any>);
    expect(run.state.type).toBe("COMPLETED");
    expect(run.deployment_id).toBeNull();
    // The flow's name left out: the file runs as a script, and the output says which flow to name.
    const bare = await env.cli(["run", "flows/hello.ts"], { cwd: project });
    expect(bare.code).toBe(0);
    expect(bare.stdout).not.toContain("hello");
    expect(bare.stderr).toContain(
      "flows/hello.ts ran as a script; no flow ran. It exports hello: run one with: weir run flows/hello.ts:hello",
    );
  });

  test("weir run works with no server at all", async () => {
    const r = await env.cli(["run", "flows/hello.ts:hello", "--param", "name=Solo"], {
      cwd: project,
      env: { WEIR_API_URL: "http://127.0.0.1:9/api" },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hello Solo");
    expect(r.stderr).toContain("running untracked");
  });

  test("re-deploying keeps the deployment's id", async () => {
    const before = await env.json(["deployment", "inspect", "hello/daily"]);
    const r = await env.cli(["deploy", "--all"], { cwd: project });
    expect(r.stdout).toContain(`hello/daily updated (id ${before.id})`);
  });

  // tests/e2e/types.test.ts checks the declarations further (fresh, strict, misuses fail).
  test("weir types writes declarations that type-check a flow", async () => {
    const r = await env.cli(["types"], { cwd: project });
    expect(r.code).toBe(0);
    const tsc = Bun.spawnSync([join(import.meta.dir, "../../node_modules/.bin/tsc"), "-p", project], {
      cwd: project,
    });
    expect(tsc.stdout.toString() + tsc.stderr.toString()).toBe("");
    expect(tsc.exitCode).toBe(0);
  });
});
