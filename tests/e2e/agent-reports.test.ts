// What an agent does with the runs a claim started (recorded RUNNING because an executor was
// waiting). One whose end the server refused must not run again: it stays RUNNING on the server,
// and a claim that finds a RUNNING run of this agent's it does not list takes it for a lost answer
// and hands it back. The agent keeps such runs listed and reports them again with its heartbeats.
// And a started run has the waiting executor before any run of the same claim still PENDING.
// Real server, real `weir execute --warm` processes of the compiled binary; only the agent's
// client is changed (one report refused; a claim's answer in another order).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "../../core/agent/index.ts";
import { WeirClient } from "../../core/client/index.ts";
import { type StateProposal, WeirError } from "../../core/model/index.ts";
import { registry } from "../helpers.ts";
import { Env } from "./harness.ts";

setDefaultTimeout(90_000);

/** Counts its executions in a file beside it, then exits before any report. */
const FLOW = `import { flow } from "weir";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
export const quits = flow({ name: "quits" }, async () => {
  appendFileSync(join(import.meta.dir, "executions.log"), \`\${process.pid}\\n\`);
  process.exit(0);
});
`;

/** A client whose first report of a CRASHED end is refused with a server error. */
class RefusesOneCrash extends WeirClient {
  refused = 0;
  override async setFlowRunState(
    id: string,
    state: StateProposal,
    as?: Parameters<WeirClient["setFlowRunState"]>[2],
  ) {
    if (state.type === "CRASHED" && this.refused === 0) {
      this.refused++;
      throw new WeirError("FAILED", "the server could not take the report (made to fail by the test)");
    }
    return super.setFlowRunState(id, state, as);
  }
}

/**
 * Writes which kind of process ran it (a warm executor, or one started for the run) and what it
 * was told the server takes (a process whose claim started its run asks the server nothing first).
 */
const WHICH = `import { flow } from "weir";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
export const which = flow({ name: "which" }, async () => {
  const kind = (process.argv.includes("--warm") ? "warm" : "cold") + "/" + process.env.WEIR_SERVER_ACCEPTS;
  appendFileSync(join(import.meta.dir, "which.log"), \`\${process.env.WEIR_FLOW_RUN_ID} \${kind}\\n\`);
});
`;

/** A client that lists a claim's PENDING runs before the ones it started. */
class PendingFirst extends WeirClient {
  started: string[] = [];
  override async claim(...args: Parameters<WeirClient["claim"]>) {
    const res = await super.claim(...args);
    for (const r of res.flow_runs) if (r.state.type === "RUNNING") this.started.push(r.id);
    res.flow_runs.sort((a, b) => Number(a.state.type === "RUNNING") - Number(b.state.type === "RUNNING"));
    return res;
  }
}

let env: Env;
let project: string;
beforeAll(async () => {
  env = new Env();
  project = env.project("reports", {
    "flows/f.ts": FLOW,
    "flows/which.ts": WHICH,
    "weir.yaml": `deployments:
  - { name: quits, entrypoint: flows/f.ts:quits, work_pool: { name: local } }
  - { name: which, entrypoint: flows/which.ts:which, work_pool: { name: pair } }
`,
  });
  await env.startServer();
  expect((await env.cli(["work-pool", "create", "local"])).code).toBe(0);
  expect((await env.cli(["work-pool", "create", "pair"])).code).toBe(0);
  expect((await env.cli(["deploy", "--all"], { cwd: project })).code).toBe(0);
});
afterAll(() => env.dispose());

describe("an end the server would not take", () => {
  test("is reported again with the heartbeats, and its run is never handed back and run twice", async () => {
    const client = new RefusesOneCrash(env.apiUrl);
    const lines: string[] = [];
    const agent = new Agent({
      client,
      pool: "local",
      queues: [],
      limit: 1,
      name: "reports",
      command: [env.bin],
      registry,
      prewarm: 1,
      // Claims go round far more often than heartbeats: several claims meet the unreported run.
      pollWaitMs: 100,
      heartbeatMs: 2_000,
      allowDirs: [env.root],
      log: (m) => void lines.push(m),
    });
    await agent.start();
    try {
      const { id } = (await env.json(["deployment", "inspect", "quits/quits"])) as { id: string };
      const run = (await fetch(`${env.apiUrl}/deployments/${id}/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      }).then((r) => r.json())) as { id: string };
      const ended = await env.waitForRun(run.id, (x) => x.state.type === "CRASHED");
      expect(ended.state.message).toContain("exited without reporting a final state");
      expect(client.refused).toBe(1);
      expect(lines.join("\n")).toContain(`Recorded the end of flow run ${run.id}`);
      // The claim started it (an executor was waiting), so RUNNING is all the server had of it
      // while the report was refused: claims went on meanwhile, and none handed it back.
      const states = (await fetch(`${env.apiUrl}/flow-runs/${run.id}/states`).then((r) => r.json())) as {
        type: string;
      }[];
      expect(states.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "CRASHED"]);
      await Bun.sleep(1_000);
      const log = join(project, "flows", "executions.log");
      expect(existsSync(log)).toBe(true);
      expect(readFileSync(log, "utf8").trim().split("\n")).toHaveLength(1);
    } finally {
      agent.killAll();
      await agent.stop();
    }
  });
});

describe("a claim that starts one run of two", () => {
  test("gives the waiting executor to the run it started, even when the other comes first", async () => {
    const { id } = (await env.json(["deployment", "inspect", "which/which"])) as { id: string };
    const runs: string[] = [];
    // Both wait before the agent starts, so one claim takes the two.
    for (let i = 0; i < 2; i++)
      runs.push(
        (
          (await fetch(`${env.apiUrl}/deployments/${id}/runs`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{}",
          }).then((r) => r.json())) as { id: string }
        ).id,
      );
    const client = new PendingFirst(env.apiUrl);
    const agent = new Agent({
      client,
      pool: "pair",
      queues: [],
      limit: 2,
      name: "pair",
      command: [env.bin],
      registry,
      prewarm: 1,
      pollWaitMs: 100,
      allowDirs: [env.root],
      log: () => {},
    });
    // The agent learns that the server takes a number of runs to start from its first heartbeat.
    await agent.start();
    try {
      for (const run of runs) await env.waitForRun(run, (x) => x.state.type === "COMPLETED");
      expect(client.started).toHaveLength(1);
      const started = client.started[0]!;
      const kinds = Object.fromEntries(
        readFileSync(join(project, "flows", "which.log"), "utf8")
          .trim()
          .split("\n")
          .map((l) => l.split(" ") as [string, string]),
      );
      const accepts = client.accepted().join(",");
      expect(accepts).toContain("task_runs");
      expect(kinds).toEqual(
        Object.fromEntries(runs.map((r) => [r, `${r === started ? "warm" : "cold"}/${accepts}`])),
      );
    } finally {
      await agent.stop();
    }
  });
});
