// Scale-out on PostgreSQL: two servers (each with its scheduler) and three agents on one
// database; 1,000 runs created through both servers while one server is killed with SIGKILL half
// way. Every run a server acknowledged executes exactly once (the flow appends its run id to a
// file) and none is left unfinished. Separate processes throughout, so races are real.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Env, freePort, type Service } from "./harness.ts";
import { type PostgresServer, postgresOnlyMissing, startPostgres } from "./postgres.ts";

setDefaultTimeout(300_000);

// PostgreSQL-only already, so not run again in the suites' second pass on PostgreSQL.
const missing = postgresOnlyMissing("scale-out test");

const RUNS = Number(process.env.WEIR_SCALE_RUNS ?? 1000);

const APPEND_FLOW = `import { appendFileSync } from "node:fs";
import { flow } from "weir";

export const mark = flow({ name: "mark" }, async () => {
  appendFileSync(process.env.MARKS!, \`\${process.env.WEIR_FLOW_RUN_ID}\\n\`);
});
`;

let pg: PostgresServer;
let env: Env;
const servers: { url: string; service: Service }[] = [];

describe.skipIf(missing !== null)("two servers and three agents on one PostgreSQL", () => {
  beforeAll(async () => {
    pg = await startPostgres();
    env = new Env();
    env.database = await pg.createDatabase("scale");
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const service = env.spawn(["server", "--port", String(port)], {
        env: { WEIR_SCHEDULER_LOOP_SECONDS: "1" },
      });
      await service.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
      servers.push({ url: `http://127.0.0.1:${port}/api`, service });
    }
  });
  afterAll(async () => {
    // What the servers and agents said, when something went wrong.
    if (process.env.WEIR_SCALE_DEBUG)
      for (const svc of env?.services ?? [])
        console.log(
          `---- ${svc.proc.pid}\n${svc.out
            .split("\n")
            .filter((l) => /weir: |error|Error|Could not/.test(l))
            .slice(0, 40)
            .join("\n")}`,
        );
    await env?.dispose();
    await pg?.dispose();
  });

  test("a run created on one server reaches an agent waiting on another at once, and so does its cancellation", async () => {
    // A third server that looks for unannounced runs only every 10 minutes: its waiting claim
    // ends before then only if the other server's NOTIFY wakes it.
    const port = await freePort();
    const quiet = env.spawn(["server", "--port", String(port)], {
      env: { WEIR_CLAIM_RECHECK_MS: "600000", WEIR_SCHEDULER_LOOP_SECONDS: "3600" },
    });
    await quiet.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    const b = `http://127.0.0.1:${port}/api`;
    const a = servers[0]!.url;
    const post = (url: string, body: unknown) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await post(`${a}/work-pools`, { name: "wake" })).status).toBe(201);
    const dep = await fetch(`${a}/deployments`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        flow_name: "wake",
        name: "up",
        entrypoint: "flows/x.ts:x",
        work_pool_name: "wake",
      }),
    }).then((r) => r.json() as Promise<{ deployment: { id: string } }>);
    const agent = "01a00000-0000-7000-8000-00000000a9e1";
    const claim = (limit: number, running: string[] = []) =>
      post(`${b}/work-pools/wake/claim`, { agent_id: agent, limit, wait_ms: 60_000, running }).then(
        (r) => r.json() as Promise<{ flow_runs: { id: string }[]; cancelling: string[] }>,
      );
    // The claim's whole wait is 60 s; the test gives up long before that.
    const within = <T>(p: Promise<T>, what: string) =>
      Promise.race([p, Bun.sleep(30_000).then(() => Promise.reject(new Error(`${what}: no wake-up`)))]);

    const waiting = claim(1);
    await Bun.sleep(300); // let the claim reach its wait
    const created = await post(`${a}/deployments/${dep.deployment.id}/runs`, {});
    const run = (await created.json()) as { id: string };
    const got = await within(waiting, "claim on the other server");
    expect(got.flow_runs.map((r) => r.id)).toEqual([run.id]);

    const watching = claim(0, [run.id]);
    await Bun.sleep(300);
    expect((await post(`${a}/flow-runs/${run.id}/cancel`, {})).ok).toBe(true);
    const told = await within(watching, "cancellation on the other server");
    expect(told.cancelling).toEqual([run.id]);
    await quiet.stop();
  });

  test("1,000 runs through both servers, one killed half way: each acknowledged run executes once, none stuck", async () => {
    const both = servers.map((s) => s.url).join(",");
    const marks = join(env.root, "marks.txt");
    const cli = (args: string[], apiUrl = servers[1]!.url) =>
      env.cli(args, { env: { WEIR_API_URL: apiUrl, MARKS: marks } });
    expect((await cli(["work-pool", "create", "scale", "--limit", "1000"])).code).toBe(0);
    const dir = env.project("scale", {
      "flows/mark.ts": APPEND_FLOW,
      "weir.yaml":
        "deployments:\n  - { name: once, entrypoint: flows/mark.ts:mark, work_pool: { name: scale } }\n",
    });
    const deployed = await env.cli(["deploy", "--all"], { cwd: dir, env: { WEIR_API_URL: servers[0]!.url } });
    expect(deployed.code).toBe(0);
    const deployment = (await fetch(`${servers[1]!.url}/deployments/name/mark/once`).then((r) =>
      r.json(),
    )) as {
      id: string;
    };
    // Agents know both servers: when one goes, they go on with the other.
    for (let i = 0; i < 3; i++)
      env.spawn(["agent", "--pool", "scale", "--limit", "8", "--name", `agent-${i}`], {
        env: { WEIR_API_URL: both, MARKS: marks },
      });

    const acknowledged = new Set<string>();
    let attempted = 0;
    let killed = false;
    const create = async (k: number) => {
      const target = servers[k % 2]!;
      try {
        const res = await fetch(`${target.url}/deployments/${deployment.id}/runs`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        if (res.status === 201) acknowledged.add(((await res.json()) as { id: string }).id);
      } catch {
        // The killed server: this run was not acknowledged (it may or may not exist).
      }
    };
    // 20 clients at a time; server A is killed once half the runs have been asked for.
    for (let k = 0; k < RUNS; k += 20) {
      await Promise.all(Array.from({ length: Math.min(20, RUNS - k) }, (_, j) => create(k + j)));
      attempted += Math.min(20, RUNS - k);
      if (!killed && attempted >= RUNS / 2) {
        servers[0]!.service.proc.kill("SIGKILL");
        await servers[0]!.service.proc.exited;
        killed = true;
      }
    }
    expect(killed).toBe(true);
    // Most runs were acknowledged: all of server B's, and server A's until it died.
    expect(acknowledged.size).toBeGreaterThanOrEqual(RUNS * 0.74);

    // Wait (through the surviving server) until no run of the deployment is unfinished.
    const api = servers[1]!.url;
    let unfinished: { id: string; state: { type: string } }[] = [];
    for (let i = 0; i < 2400; i++) {
      const page = (await fetch(`${api}/flow-runs?deployment=${deployment.id}&limit=1000`).then((r) =>
        r.json(),
      )) as { id: string; state: { type: string } }[];
      const more = (await fetch(`${api}/flow-runs?deployment=${deployment.id}&limit=1000&offset=1000`).then(
        (r) => r.json(),
      )) as { id: string; state: { type: string } }[];
      unfinished = [...page, ...more].filter(
        (r) => !["COMPLETED", "FAILED", "CRASHED", "CANCELLED"].includes(r.state.type),
      );
      if (unfinished.length === 0) break;
      await Bun.sleep(100);
    }
    expect(unfinished).toEqual([]);

    const lines = existsSync(marks) ? readFileSync(marks, "utf8").trim().split("\n") : [];
    const counts = new Map<string, number>();
    for (const id of lines) counts.set(id, (counts.get(id) ?? 0) + 1);
    // Nothing ran twice, and every acknowledged run ran.
    expect([...counts.entries()].filter(([, n]) => n > 1)).toEqual([]);
    const notRun = [...acknowledged].filter((id) => !counts.has(id));
    const why = await Promise.all(
      notRun.map(async (id) => {
        const r = (await fetch(`${api}/flow-runs/${id}`).then((x) => x.json())) as {
          state: { type: string; message: string };
        };
        return `${id}: ${r.state.type} ${r.state.message}`;
      }),
    );
    expect(why).toEqual([]);
    // And every acknowledged run ended Completed.
    const states = await Promise.all(
      [...acknowledged].map(
        async (id) =>
          ((await fetch(`${api}/flow-runs/${id}`).then((r) => r.json())) as { state: { type: string } }).state
            .type,
      ),
    );
    expect(states.filter((t) => t !== "COMPLETED")).toEqual([]);

    // With the dead server first in WEIR_API_URL, commands that send several requests side by
    // side (inspect reads the run and its states) go on through the live one.
    const some = [...acknowledged][0]!;
    for (const args of [
      ["flow-run", "inspect", some],
      ["work-pool", "inspect", "scale"],
      ["flow-run", "logs", some],
    ]) {
      const r = await env.cli(args, { env: { WEIR_API_URL: both } }); // A first, then B
      expect(`${args.join(" ")}: ${r.code} ${r.stderr}`).toBe(`${args.join(" ")}: 0 `);
    }
  });
});
