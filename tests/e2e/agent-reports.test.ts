// An agent whose report of a run's end is refused must not run that flow again: the run stays
// RUNNING on the server (its claim started it), and a claim that finds a RUNNING run of this
// agent's it does not list takes it for a lost answer and hands it back. The agent keeps such
// runs listed and reports them again with its heartbeats. Real server, real `weir execute --warm`
// processes of the compiled binary; only the agent's client is made to fail one report.
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

let env: Env;
let project: string;
beforeAll(async () => {
  env = new Env();
  project = env.project("reports", {
    "flows/f.ts": FLOW,
    "weir.yaml":
      "deployments:\n  - { name: quits, entrypoint: flows/f.ts:quits, work_pool: { name: local } }\n",
  });
  await env.startServer();
  expect((await env.cli(["work-pool", "create", "local"])).code).toBe(0);
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
