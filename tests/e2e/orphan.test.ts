// A flow process never outlives its agent, and a finished run takes nothing more: through the
// compiled binary, with the agent killed by SIGKILL (nothing of it gets to clean up).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alive, Env } from "./harness.ts";

setDefaultTimeout(60_000);

const FLOW = `import { flow } from "weir";
export const busy = flow({ name: "busy" }, async (_p, { log }) => {
  // The folder the agent made for the run (the deployment's pull step moved on to the project).
  const folder = process.env.WEIR_RUN_FOLDER ?? "";
  await Bun.write(\`\${folder}/pulled-code.txt\`, "what a pull step would leave");
  log.info(\`folder=\${folder}\`);
  log.info(\`pid=\${process.pid}\`);
  for (let i = 0; ; i++) {
    log.info(\`still here \${i}\`);
    await Bun.sleep(100);
  }
});
`;

let env: Env;
let project: string;
beforeAll(async () => {
  env = new Env();
  project = env.project("orphan", {
    "flows/busy.ts": FLOW,
    "weir.yaml":
      "deployments:\n  - name: busy\n    entrypoint: flows/busy.ts:busy\n    work_pool: { name: local }\n",
  });
  await env.startServer();
});
afterAll(() => env.dispose());

const post = (path: string, body: unknown) =>
  fetch(`${env.apiUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("an agent killed with SIGKILL", () => {
  test("takes its flow process and run folder with it; the run ends CRASHED at once and takes no more logs", async () => {
    const agent = await env.startAgent("local");
    expect((await env.cli(["deploy", "--all"], { cwd: project })).code).toBe(0);
    const created = await env.json(["deployment", "run", "busy/busy"]);
    await env.waitForRun(created.id, (r) => r.state.type === "RUNNING");
    const pid = await env.loggedPid(created.id);
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);

    await agent.stop("SIGKILL");
    // The engine sees its agent gone and reports the run itself: no agent timeout (60 s) involved.
    const run = await env.waitForRun(created.id, (r) => r.state.type !== "RUNNING", 30_000);
    expect(run.state.type).toBe("CRASHED");
    expect(run.state.message).toMatch(/^Its agent \(pid \d+\) exited while the run was in progress/);
    for (let i = 0; i < 200 && alive(pid); i++) await Bun.sleep(50);
    expect(alive(pid)).toBe(false);
    // The folder the agent made for the run (with what the flow wrote) went with the process.
    const first = (await fetch(`${env.apiUrl}/flow-runs/${created.id}/logs`).then((r) => r.json())) as any[];
    const folder = String(first.find((l) => l.message.startsWith("folder="))?.message.slice(7));
    expect(folder.startsWith(join(tmpdir(), "weir-run-"))).toBe(true);
    expect(existsSync(folder)).toBe(false);

    // Every log line was written before the run ended, and the server now refuses more.
    const states = (await fetch(`${env.apiUrl}/flow-runs/${created.id}/states`).then((r) =>
      r.json(),
    )) as any[];
    const ended = states.at(-1).timestamp;
    const logs = (await fetch(`${env.apiUrl}/flow-runs/${created.id}/logs`).then((r) => r.json())) as any[];
    expect(logs.length).toBeGreaterThan(1);
    for (const l of logs) expect(l.timestamp <= ended).toBe(true);
    const late = await post("/logs", [
      {
        flow_run_id: created.id,
        task_run_id: null,
        name: "late",
        level: 20,
        message: "after the end",
        timestamp: new Date().toISOString(),
      },
    ]);
    expect(late.status).toBe(409);
    expect(((await late.json()) as any).error.message).toContain(
      "it is already Crashed, and a finished run takes no more",
    );
    expect((await post(`/flow-runs/${created.id}/set_state`, { type: "RUNNING" })).status).toBe(409);
    const now = new Date().toISOString();
    const task = await post("/task-runs/snapshots", [
      {
        id: crypto.randomUUID(),
        flow_run_id: created.id,
        name: "t",
        task_key: "t",
        state: { type: "RUNNING", name: "Running", timestamp: now },
        start_time: now,
        end_time: null,
        run_count: 1,
        history: [{ type: "RUNNING", name: "Running", timestamp: now }],
      },
    ]);
    expect(task.status).toBe(409);
    expect(
      (await fetch(`${env.apiUrl}/flow-runs/${created.id}/logs`).then((r) => r.json())) as any[],
    ).toHaveLength(logs.length);
  });
});
