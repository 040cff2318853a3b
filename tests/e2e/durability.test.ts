// A server restart loses nothing, and two agents on one pool run each flow run exactly once.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Env, HELLO_FLOW } from "./harness.ts";

setDefaultTimeout(90_000);

const COUNT_FLOW = `import { flow, log } from "weir";
export const once = flow({ name: "once" }, async () => {
  log.info(\`ran in \${process.pid}\`);
  await Bun.sleep(100);
});
`;

const YAML = `deployments:
  - name: daily
    entrypoint: flows/hello.ts:hello
    parameters: { name: World }
    work_pool: { name: local }
  - name: once
    entrypoint: flows/once.ts:once
    work_pool: { name: shared }
`;

let env: Env;
let project: string;

beforeAll(async () => {
  env = new Env();
  project = env.project("proj", {
    "flows/hello.ts": HELLO_FLOW,
    "flows/once.ts": COUNT_FLOW,
    "weir.yaml": YAML,
  });
  await env.startServer();
});
afterAll(() => env.dispose());

describe("server restart", () => {
  test("deployments, runs, states and logs survive; agents reconnect and go on", async () => {
    await env.cli(["work-pool", "create", "shared"]);
    await env.startAgent("local");
    expect((await env.cli(["deploy", "--all"], { cwd: project })).code).toBe(0);
    const first = await env.cli(["deployment", "run", "hello/daily", "--watch"]);
    expect(first.code).toBe(0);
    const id = first.stdout.match(/\(([0-9a-f-]{36})\)/)![1]!;
    const deploymentBefore = await env.json(["deployment", "inspect", "hello/daily"]);

    const server = env.services[0]!;
    await server.stop("SIGTERM");
    expect(server.proc.exitCode).toBe(0);
    const again = await env.startServer();
    expect(again.out).toContain("listening");

    const deploymentAfter = await env.json(["deployment", "inspect", "hello/daily"]);
    expect(deploymentAfter).toEqual(deploymentBefore);
    const run = await env.json(["flow-run", "inspect", id]);
    expect(run.state.type).toBe("COMPLETED");
    expect(run.state_history.length).toBe(4);
    expect((await env.cli(["flow-run", "logs", id])).stdout).toContain("hello World");

    // the agent started before the restart picks up new work
    const second = await env.cli(["deployment", "run", "hello/daily", "--param", "name=Again", "--watch"]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("hello Again");
  });

  test("flow-run logs --follow goes on through a server restart", async () => {
    const gate = join(env.root, "gate-open");
    const dir = env.project("follow", {
      "flows/gated.ts": `import { existsSync } from "node:fs";
import { flow } from "weir";
export const gated = flow({ name: "gated" }, async (_p, { log }) => {
  log.info("before the restart");
  while (!existsSync(${JSON.stringify(gate)})) await Bun.sleep(50);
  log.info("after the restart");
});
`,
      "weir.yaml":
        "deployments:\n  - name: gated\n    entrypoint: flows/gated.ts:gated\n    work_pool: { name: local }\n",
    });
    expect((await env.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
    const { id } = await env.json(["deployment", "run", "gated/gated"]);
    const follow = env.spawn(["flow-run", "logs", id, "--follow"]);
    await follow.waitFor(/before the restart/);
    const server = env.services.find((s) => s.out.includes("listening") && s.proc.exitCode === null)!;
    await server.stop("SIGTERM");
    await follow.waitFor(
      /Lost the server \(Cannot reach the Weir API at .*\); watching again once it answers/,
    );
    await env.startServer();
    writeFileSync(gate, "");
    expect(await follow.proc.exited).toBe(0);
    expect(follow.out).toMatch(/The server answers again \(after \d+ s\)/);
    expect(follow.out).toContain("after the restart");
  });
});

describe("two agents on one pool", () => {
  test("each flow run is executed exactly once", async () => {
    await env.startAgent("shared", ["--name", "agent-a"]);
    await env.startAgent("shared", ["--name", "agent-b"]);
    const deployment = await env.json(["deployment", "inspect", "once/once"]);
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) {
      const res = await fetch(`${env.apiUrl}/deployments/${deployment.id}/runs`, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      ids.push(((await res.json()) as { id: string }).id);
    }
    for (const id of ids) {
      const run = await env.waitForRun(
        id,
        (r) => ["COMPLETED", "FAILED", "CRASHED"].includes(r.state.type),
        60_000,
      );
      expect(run.state.type).toBe("COMPLETED");
      expect(run.run_count).toBe(1);
      const states = (
        await fetch(`${env.apiUrl}/flow-runs/${id}/states`).then((r) => r.json() as Promise<any>)
      ).map((s: { type: string }) => s.type);
      expect(states).toEqual(["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]);
      const logs = await fetch(`${env.apiUrl}/flow-runs/${id}/logs`).then((r) => r.json() as Promise<any>);
      expect(logs.filter((l: { message: string }) => l.message.startsWith("ran in")).length).toBe(1);
    }
    const agents = await fetch(`${env.apiUrl}/agents?pool=shared`).then((r) => r.json() as Promise<any>);
    expect(agents.map((a: { name: string }) => a.name).sort()).toEqual(["agent-a", "agent-b"]);
  });
});

describe("agent --limit", () => {
  test("bounds how many flow runs run at once", async () => {
    await env.cli(["work-pool", "create", "narrow"]);
    const r = await env.cli(["deploy", "-n", "once", "--pool", "narrow"], { cwd: project });
    expect(r.code).toBe(0);
    const agent = await env.startAgent("narrow", ["--limit", "1"]);
    const deployment = await env.json(["deployment", "inspect", "once/once"]);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${env.apiUrl}/deployments/${deployment.id}/runs`, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      ids.push(((await res.json()) as { id: string }).id);
    }
    const runs = [];
    for (const id of ids) runs.push(await env.waitForRun(id, (x) => x.state.type === "COMPLETED", 30_000));
    const spans = runs
      .map((x) => [Date.parse(x.start_time), Date.parse(x.end_time)] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    await agent.stop("SIGKILL");
    // back to the shared pool for the next test
    await env.cli(["deploy", "-n", "once"], { cwd: project });
  });
});

describe("agent shutdown", () => {
  test("Ctrl-C stops taking work and waits for the running flow", async () => {
    const agent = await env.startAgent("shared", ["--name", "agent-c"]);
    await env.services.find((s) => s.out.includes("agent-a"))?.stop("SIGKILL");
    await env.services.find((s) => s.out.includes("agent-b"))?.stop("SIGKILL");
    const deployment = await env.json(["deployment", "inspect", "once/once"]);
    const res = await fetch(`${env.apiUrl}/deployments/${deployment.id}/runs`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    const { id } = (await res.json()) as { id: string };
    await env.waitForRun(id, (r) => r.state.type === "RUNNING");
    // The agent has it (a run its claim started is RUNNING before the claim's answer arrives; an
    // agent stopped in between puts it back to the queue instead).
    await agent.waitFor(new RegExp(`Started flow run \\S+ \\(${id}\\)`));
    agent.proc.kill("SIGINT");
    expect(await agent.proc.exited).toBe(0);
    expect(agent.out).toContain("waiting for 1 running flow run(s)");
    expect((await env.json(["flow-run", "inspect", id])).state.type).toBe("COMPLETED");
  });
});
