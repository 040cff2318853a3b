// How runs end when what runs them goes away, through the compiled binary: flow code that calls
// process.exit(0) before any report, and an agent that dies holding a claimed run (its lease
// expires: the run crashes and is never handed out again).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { alive, Env, type Service } from "./harness.ts";

setDefaultTimeout(90_000);

const FLOW = `import { flow } from "weir";
export const quits = flow({ name: "quits" }, async () => {
  process.exit(0);
});
export const fine = flow({ name: "fine" }, async () => "ok");
export const spins = flow({ name: "spins", timeoutSeconds: 1 }, async () => {
  for (;;) {} // never yields: no timer in this thread can fire
});
export const lingers = flow({ name: "lingers" }, async (_p, { log }) => {
  log.info(\`pid=\${process.pid}\`);
  await new Promise((r) => setTimeout(r, 120_000));
});
export const gated = flow({ name: "gated" }, async (_p, { log }) => {
  const { existsSync } = await import("node:fs");
  while (!existsSync(process.env.GATE!)) await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 5; i++) log.info(\`after the gate \${i}\`);
});
`;

const SERVER_ENV = { WEIR_AGENT_TIMEOUT_SECONDS: "2" };
let env: Env;
let project: string;
beforeAll(async () => {
  env = new Env();
  project = env.project("crashes", {
    "flows/f.ts": FLOW,
    "weir.yaml": `deployments:
  - { name: quits, entrypoint: flows/f.ts:quits, work_pool: { name: local } }
  - { name: leased, entrypoint: flows/f.ts:fine, work_pool: { name: leases } }
  - { name: gated, entrypoint: flows/f.ts:gated, work_pool: { name: local } }
  - { name: lingers, entrypoint: flows/f.ts:lingers, work_pool: { name: stall } }
  - { name: spins, entrypoint: flows/f.ts:spins, work_pool: { name: local } }
  - { name: drains, entrypoint: flows/f.ts:gated, work_pool: { name: drain } }
`,
  });
  // A short agent timeout, so a silent agent is noticed within the test.
  server = await env.startServer([], SERVER_ENV);
  expect((await env.cli(["work-pool", "create", "local"])).code).toBe(0);
  expect((await env.cli(["work-pool", "create", "leases"])).code).toBe(0);
  expect((await env.cli(["work-pool", "create", "drain"])).code).toBe(0);
  expect((await env.cli(["work-pool", "create", "stall"])).code).toBe(0);
  expect((await env.cli(["deploy", "--all"], { cwd: project })).code).toBe(0);
});
afterAll(() => env.dispose());
let server: Service;

const post = (path: string, body: unknown) =>
  fetch(`${env.apiUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  }).then((r) => r.json() as Promise<any>);

describe("runs whose runner went away", () => {
  test("a flow that calls process.exit(0) before reporting ends CRASHED, saying so", async () => {
    env.spawn(["agent", "--pool", "local"], { env: { GATE: join(env.root, "gate") } });
    const r = await env.cli(["deployment", "run", "quits/quits", "--watch"]);
    expect(r.code).toBe(1);
    const run = (await env.json(["flow-run", "ls"])).find((x: any) => x.deployment_name === "quits");
    expect(run.state.type).toBe("CRASHED");
    expect(run.state.message).toContain("exited without reporting a final state");
  });

  test("a CPU-bound flow past its timeout is killed and ends FAILED (TimedOut)", async () => {
    const r = await env.cli(["deployment", "run", "spins/spins", "--watch"], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    const run = (await env.json(["flow-run", "ls"])).find((x: any) => x.deployment_name === "spins");
    expect([run.state.type, run.state.name]).toEqual(["FAILED", "TimedOut"]);
    expect(run.state.message).toContain("exceeded its timeout of 1 s without yielding");
  });

  test("an agent that dies holding a claim: it shows OFFLINE and the run crashes, never handed out again", async () => {
    const agent = "01a00000-0000-7000-8000-0000000000de";
    await post("/agents/heartbeat", { id: agent, name: "doomed", work_pool_name: "leases", work_queues: [] });
    const inspect = await env.cli(["work-pool", "inspect", "leases"]);
    expect(inspect.stdout).toMatch(/doomed\s+ONLINE/);
    const { id } = (await env.json(["deployment", "inspect", "fine/leased"])) as { id: string };
    const run = await post(`/deployments/${id}/runs`, {});
    const claimed = await post("/work-pools/leases/claim", { agent_id: agent, limit: 1 });
    expect(claimed.flow_runs.map((x: any) => x.id)).toEqual([run.id]);
    // No more heartbeats from "doomed".
    const crashed = await env.waitForRun(run.id, (x) => x.state.type === "CRASHED", 60_000);
    expect(crashed.state.message).toContain(
      'agent "doomed" stopped sending heartbeats before the run reported starting',
    );
    expect((await env.cli(["work-pool", "inspect", "leases"])).stdout).toMatch(/doomed\s+OFFLINE/);
    // The server's log says so, with the time first, as every event line of a server.
    await server.waitFor(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z Agent timeout: 1 run\(s\) of silent agents ended/m,
    );
    // A live agent of the pool does not get it.
    const other = await post("/work-pools/leases/claim", {
      agent_id: "01a00000-0000-7000-8000-0000000000ff",
      limit: 5,
    });
    expect(other.flow_runs).toEqual([]);

    // Asked for, it runs again: a new attempt of the same run.
    const retried = await env.cli(["flow-run", "retry", run.id]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toContain("is Scheduled again");
    await env.startAgent("leases");
    const done = await env.waitForRun(run.id, (x) => x.state.type === "COMPLETED", 60_000);
    expect(done.run_count).toBe(1);
    const states = (await env.json(["flow-run", "inspect", run.id])).state.type;
    expect(states).toBe("COMPLETED");
    const again = await env.cli(["flow-run", "cancel", run.id]);
    expect(again.code).toBe(1);
    expect(again.stderr.split("\n")[0]).toMatch(/^weir: .*COMPLETED|Completed/);
  });

  test("a stopping agent heartbeats while its runs finish, then shows OFFLINE (stopped) at once", async () => {
    const gate = join(env.root, "drain-gate");
    const agent = env.spawn(["agent", "--pool", "drain", "--name", "drainer"], { env: { GATE: gate } });
    await agent.waitFor(/Agent drainer started/);
    const { id } = (await env.json(["deployment", "inspect", "gated/drains"])) as { id: string };
    const run = await post(`/deployments/${id}/runs`, {});
    await agent.waitFor(new RegExp(`Started flow run \\S+ \\(${run.id}\\)`));
    agent.proc.kill("SIGINT");
    await agent.waitFor(/waiting for 1 running flow run\(s\)/);
    // Three agent timeouts (2 s each) of a draining agent: the server must still hear it.
    await Bun.sleep(6_500);
    expect((await env.json(["flow-run", "inspect", run.id])).state.type).toBe("RUNNING");
    expect((await env.cli(["work-pool", "inspect", "drain"])).stdout).toMatch(/drainer\s+ONLINE/);
    writeFileSync(gate, "");
    expect(await agent.proc.exited).toBe(0);
    expect((await env.json(["flow-run", "inspect", run.id])).state.type).toBe("COMPLETED");
    // It said it stopped: no wait for its heartbeats to time out.
    expect((await env.cli(["work-pool", "inspect", "drain"])).stdout).toMatch(
      /drainer\s+OFFLINE \(stopped\)/,
    );
    const agents = (await (await fetch(`${env.apiUrl}/agents?pool=drain`)).json()) as any[];
    expect(agents.find((a) => a.name === "drainer")).toMatchObject({
      status: "OFFLINE",
      stopped: expect.any(String),
    });
    // Started again under the same name: one line, its latest start, counting the earlier one.
    const again = env.spawn(["agent", "--pool", "drain", "--name", "drainer"]);
    await again.waitFor(/Agent drainer started/);
    const shown = (await env.cli(["work-pool", "inspect", "drain"])).stdout;
    expect(shown).toMatch(/drainer \(\+1 earlier\)\s+ONLINE/);
    expect(shown.match(/^drainer/gm)?.length).toBe(1);
    await again.stop("SIGINT");
  });

  test("a run crashed while its agent could not be heard is stopped once the agent is heard again", async () => {
    const agent = env.spawn(["agent", "--pool", "stall", "--prewarm", "0"]);
    await agent.waitFor(/Agent .* started/);
    const { id } = (await env.json(["deployment", "inspect", "lingers/lingers"])) as { id: string };
    const run = await post(`/deployments/${id}/runs`, {});
    const pid = await env.loggedPid(run.id);
    expect(alive(pid)).toBe(true);
    // The agent stalls (a stopped process, a cut network): its run is crashed, its flow goes on.
    process.kill(agent.proc.pid, "SIGSTOP");
    try {
      const crashed = await env.waitForRun(run.id, (x) => x.state.type === "CRASHED", 60_000);
      expect(crashed.state.message).toContain("stopped sending heartbeats");
      expect(alive(pid)).toBe(true);
    } finally {
      process.kill(agent.proc.pid, "SIGCONT");
    }
    // Heard again, it learns the run is not its own any more and stops the process.
    await agent.waitFor(/is Crashed on the server .*while this agent still ran it: stopping it/, 30_000);
    for (let i = 0; i < 200 && alive(pid); i++) await Bun.sleep(100);
    expect(alive(pid)).toBe(false);
    expect((await env.json(["flow-run", "inspect", run.id])).state.type).toBe("CRASHED");
    await agent.stop();
  });

  test("only a finished run can be retried", async () => {
    const { id } = (await env.json(["deployment", "inspect", "fine/leased"])) as { id: string };
    await env.cli(["work-pool", "pause", "leases"]);
    const run = await post(`/deployments/${id}/runs`, {});
    const r = await env.cli(["flow-run", "retry", run.id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is Scheduled, not finished: only a finished run can be retried");
  });

  test("a run that ends while its server is down reports its logs and end once the server is back", async () => {
    const { id } = (await env.json(["deployment", "inspect", "gated/gated"])) as { id: string };
    const run = await post(`/deployments/${id}/runs`, {});
    await env.waitForRun(run.id, (x) => x.state.type === "RUNNING", 60_000);
    const server = env.services[0]!;
    await server.stop("SIGKILL");
    env.services.splice(env.services.indexOf(server), 1);
    writeFileSync(join(env.root, "gate"), ""); // the flow finishes with no server to tell
    await Bun.sleep(3000); // longer than the agent timeout: its heartbeats fail meanwhile too
    await env.startServer([], SERVER_ENV);
    const done = await env.waitForRun(run.id, (x) => !["RUNNING", "PENDING"].includes(x.state.type), 60_000);
    expect([done.state.type, done.state.message]).toEqual(["COMPLETED", null]);
    const logs = (await fetch(`${env.apiUrl}/flow-runs/${run.id}/logs`).then((r) => r.json())) as {
      message: string;
    }[];
    expect(logs.filter((l) => l.message.startsWith("after the gate")).length).toBe(5);
  });
});
