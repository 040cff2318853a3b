// Limits and priority with real separate processes: four agents (and, on PostgreSQL, two servers
// on one database) claim at once. What is asserted comes from the server's own state history
// (when each run became PENDING and when it ended), so a limit exceeded for a moment shows.
// Through the compiled binary.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Env, freePort } from "./harness.ts";

setDefaultTimeout(240_000);

const WORK_FLOW = `import { appendFileSync, existsSync } from "node:fs";
import { flow } from "weir";

export const work = flow({ name: "work" }, async () => {
  appendFileSync(process.env.MARKS!, \`\${process.env.WEIR_FLOW_RUN_ID}\\n\`);
  await new Promise((r) => setTimeout(r, 150));
});

// Holds its slot until the test opens the gate.
export const gate = flow({ name: "gate" }, async () => {
  appendFileSync(process.env.MARKS!, \`\${process.env.WEIR_FLOW_RUN_ID}\\n\`);
  while (!existsSync(process.env.GATE!)) await new Promise((r) => setTimeout(r, 50));
});
`;

const YAML = `deployments:
  - name: capped
    entrypoint: flows/work.ts:work
    concurrency_limit: 2
    work_pool: { name: race }
  - name: tagged
    entrypoint: flows/work.ts:work
    tags: [db]
    work_pool: { name: race }
  - name: free
    entrypoint: flows/work.ts:work
    work_pool: { name: race }
    schedules: [{ interval: 86400, max_active_runs: 3, catchup: false, active: false }]
  - name: single
    entrypoint: flows/work.ts:gate
    concurrency_limit: { limit: 1, collision_strategy: CANCEL_NEW }
    work_pool: { name: race }
  - name: ordered
    entrypoint: flows/work.ts:work
    work_pool: { name: ordered, work_queue_name: low }
`;

const FINAL = ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"];

let env: Env;
const apis: string[] = [];
let marks: string;
let gate: string;

beforeAll(async () => {
  env = new Env();
  await env.startServer();
  apis.push(env.apiUrl);
  // On PostgreSQL a second server on the same database: claims race across servers too.
  if (env.database) {
    const port = await freePort();
    const second = env.spawn(["server", "--port", String(port)]);
    await second.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    apis.push(`http://127.0.0.1:${port}/api`);
  }
  marks = join(env.root, "marks.txt");
  gate = join(env.root, "gate");
});
afterAll(async () => {
  await env?.dispose();
});

async function post(url: string, body: unknown = {}): Promise<any> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** When the server put the run in PENDING and when it ended, from its state history. */
async function span(id: string): Promise<{ id: string; from: number; to: number; end: string }> {
  const states = (await fetch(`${apis[0]}/flow-runs/${id}/states`).then((r) => r.json())) as {
    type: string;
    timestamp: string;
  }[];
  const pending = states.find((s) => s.type === "PENDING");
  const last = states.at(-1)!;
  return {
    id,
    from: pending ? Date.parse(pending.timestamp) : Number.NaN,
    to: Date.parse(last.timestamp),
    end: last.type,
  };
}

/** The most runs active at one instant ([PENDING, end) intervals). */
function mostAtOnce(spans: { from: number; to: number }[]): number {
  const events = spans.flatMap((s) => [
    [s.from, 1],
    [s.to, -1],
  ]);
  // Ends before starts at the same instant: a slot freed and taken in one millisecond.
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let now = 0;
  let most = 0;
  for (const [, d] of events) {
    now += d!;
    most = Math.max(most, now);
  }
  return most;
}

async function waitFinal(ids: string[]): Promise<void> {
  for (const id of ids) await env.waitForRun(id, (r) => FINAL.includes(r.state.type), 120_000);
}

describe("limits with agents racing", () => {
  test("pool, deployment and tag limits are never exceeded; every run executes once", async () => {
    expect((await env.cli(["work-pool", "create", "race", "--limit", "3"])).code).toBe(0);
    expect((await env.cli(["work-pool", "create", "ordered", "--limit", "1"])).code).toBe(0);
    expect((await env.cli(["concurrency-limit", "create", "db", "1"])).code).toBe(0);
    const dir = env.project("race", { "flows/work.ts": WORK_FLOW, "weir.yaml": YAML });
    const deployed = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(deployed.code).toBe(0);
    // The queue the file names is made by the deploy, and the deploy says so.
    expect(deployed.stdout + deployed.stderr).toContain(
      'work queue "low" does not exist in pool "ordered": it is created with priority 2; change it with: weir work-queue update low --pool ordered --priority N',
    );
    for (let i = 0; i < 4; i++)
      env.spawn(["agent", "--pool", "race", "--limit", "4", "--name", `racer-${i}`], {
        env: { WEIR_API_URL: apis[i % apis.length]!, MARKS: marks, GATE: gate },
      });
    const ids = async (name: string) =>
      ((await fetch(`${apis[0]}/deployments/name/work/${name}`).then((r) => r.json())) as { id: string }).id;
    const plan: [string, number][] = [
      ["capped", 10],
      ["tagged", 5],
      ["free", 10],
    ];
    const created: Record<string, string[]> = {};
    let k = 0;
    await Promise.all(
      plan.flatMap(([name, n]) =>
        Array.from({ length: n }, async () => {
          const api = apis[k++ % apis.length]!;
          const run = await post(`${api}/deployments/${await ids(name)}/runs`);
          created[name] ??= [];
          created[name].push(run.id);
        }),
      ),
    );
    const all = Object.values(created).flat();
    await waitFinal(all);
    const spans = await Promise.all(all.map(span));
    expect(spans.filter((s) => s.end !== "COMPLETED")).toEqual([]);
    const of = (name: string) => spans.filter((s) => created[name]!.includes(s.id));
    expect(mostAtOnce(spans)).toBeLessThanOrEqual(3);
    expect(mostAtOnce(of("capped"))).toBeLessThanOrEqual(2);
    expect(mostAtOnce(of("tagged"))).toBeLessThanOrEqual(1);
    const lines = readFileSync(marks, "utf8").trim().split("\n");
    expect(lines.length).toBe(all.length);
    expect(new Set(lines)).toEqual(new Set(all));
  });

  test("CANCEL_NEW: while one run holds the slot, the others end CANCELLED with the reason", async () => {
    const id = (
      (await fetch(`${apis[0]}/deployments/name/gate/single`).then((r) => r.json())) as { id: string }
    ).id;
    const first = await post(`${apis[0]}/deployments/${id}/runs`);
    await env.waitForRun(first.id, (r) => r.state.type === "RUNNING", 60_000);
    const more = [
      await post(`${apis.at(-1)}/deployments/${id}/runs`),
      await post(`${apis[0]}/deployments/${id}/runs`),
    ];
    for (const r of more) {
      const done = await env.waitForRun(r.id, (x) => FINAL.includes(x.state.type), 60_000);
      expect(done.state.type).toBe("CANCELLED");
      expect(done.state.message).toBe("Deployment concurrency limit reached (1 of 1 running)");
    }
    writeFileSync(gate, "");
    expect((await env.waitForRun(first.id, (r) => FINAL.includes(r.state.type), 60_000)).state.type).toBe(
      "COMPLETED",
    );
    expect(readFileSync(marks, "utf8")).not.toContain(more[0].id);
  });

  test("queues are served strictly by priority across all agents of a pool", async () => {
    const ordered = (await env.cli(["work-queue", "create", "high", "--pool", "ordered", "--priority", "1"]))
      .stdout;
    expect(ordered).toContain('Created work queue "high" in pool "ordered" (priority 1, limit -)\n');
    const ls = (await env.cli(["work-queue", "ls", "--pool", "ordered"])).stdout;
    // default moved down from 1 to 2; low (made by deploy) after it
    expect(
      ls
        .split("\n")
        .slice(1, 4)
        .map((l) => l.split(/\s+/).slice(0, 2).join(" ")),
    ).toEqual(["high 1", "default 2", "low 3"]);
    expect((await env.cli(["work-pool", "pause", "ordered"])).code).toBe(0);
    const id = (
      (await fetch(`${apis[0]}/deployments/name/work/ordered`).then((r) => r.json())) as { id: string }
    ).id;
    const low: string[] = [];
    const high: string[] = [];
    for (let i = 0; i < 3; i++) low.push((await post(`${apis[0]}/deployments/${id}/runs`)).id);
    for (let i = 0; i < 3; i++)
      high.push((await post(`${apis.at(-1)}/deployments/${id}/runs`, { work_queue_name: "high" })).id);
    for (let i = 0; i < 2; i++)
      env.spawn(["agent", "--pool", "ordered", "--name", `ordered-${i}`], {
        env: { WEIR_API_URL: apis[i % apis.length]!, MARKS: marks, GATE: gate },
      });
    expect((await env.cli(["work-pool", "resume", "ordered"])).code).toBe(0);
    await waitFinal([...high, ...low]);
    const spans = await Promise.all([...high, ...low].map(span));
    expect(mostAtOnce(spans)).toBe(1);
    const order = [...spans].sort((a, b) => a.from - b.from).map((s) => s.id);
    expect(order.slice(0, 3).sort()).toEqual([...high].sort());
    // FIFO within a queue
    expect(order).toEqual([...high, ...low]);
    expect(existsSync(marks)).toBe(true);
  });

  test("a concurrency_limit the file gets wrong is named at its place, with the fix", async () => {
    const cases: [string, RegExp][] = [
      [
        "concurrency_limit: { limt: 1 }",
        /weir\.yaml:4:26: unknown field "limt" in deployment #1 concurrency_limit \(did you mean "limit"\?\)/,
      ],
      [
        "concurrency_limit: { limit: 1, collision_strategy: cancel_new }",
        /weir\.yaml:4:56: .*must be ENQUEUE \(wait for a slot\) or CANCEL_NEW .*got "cancel_new" \(did you mean CANCEL_NEW\?\)/,
      ],
      [
        "concurrency_limit: 0",
        /weir\.yaml:4:24: concurrency_limit: must be a whole number from 1 up \(got 0\); 0 would hold every run forever/,
      ],
    ];
    for (const [line, expected] of cases) {
      const dir = env.project(`bad-${cases.findIndex((c) => c[0] === line)}`, {
        "flows/work.ts": WORK_FLOW,
        "weir.yaml": `deployments:\n  - name: bad\n    entrypoint: flows/work.ts:work\n    ${line}\n`,
      });
      for (const args of [
        ["deploy", "--all", "--dry-run"],
        ["deploy", "--all"],
      ]) {
        const r = await env.cli(args, { cwd: dir });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(expected);
        expect(r.stderr).not.toMatch(/^\s+at /m);
      }
    }
    expect((await env.cli(["deployment", "inspect", "work/bad"])).code).toBe(1); // nothing deployed
  });

  test("a run for a queue its pool does not have is refused with the near name; queues can be deleted", async () => {
    const r = await env.cli(["deployment", "run", "work/ordered", "-q", "hihg"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('pool "ordered" has no queue "hihg" (did you mean "high"?)');
    // A deploy naming a queue the pool lacks creates it, and says where it lands and the near name.
    const typo = env.project("typo", {
      "flows/work.ts": WORK_FLOW,
      "weir.yaml":
        "deployments:\n  - name: typo\n    entrypoint: flows/work.ts:work\n    work_pool: { name: ordered, work_queue_name: hihg }\n",
    });
    const deployed = await env.cli(["deploy", "--all"], { cwd: typo });
    expect(deployed.code).toBe(0);
    expect(deployed.stdout + deployed.stderr).toContain(
      'work queue "hihg" does not exist in pool "ordered": it is created with priority 4 (did you mean "high"?)',
    );
    expect((await env.cli(["work-queue", "delete", "hihg", "--pool", "ordered"])).code).toBe(0);
    // An agent told to poll a queue the pool lacks says so, with the near name.
    const agent = await env.startAgent("ordered", ["-q", "hihg", "--name", "typo-agent"]);
    await agent.waitFor(
      /Work queue "hihg" does not exist in pool "ordered" \(did you mean "high"\?\): polling it anyway/,
    );
    await agent.stop();
    // A queue given no priority takes the first free one (Prefect's rule), which may be ahead of others.
    expect(
      (await env.cli(["work-queue", "update", "high", "--pool", "ordered", "--priority", "5"])).code,
    ).toBe(0);
    expect((await env.cli(["work-queue", "create", "spare", "--pool", "ordered"])).stdout).toContain(
      'Created work queue "spare" in pool "ordered" (priority 1, limit -); it is served before "default" (2), "low" (3), "high" (5): give --priority N to place it elsewhere',
    );
    expect((await env.cli(["work-queue", "delete", "spare", "--pool", "ordered"])).stdout).toContain(
      'Deleted work queue "spare"',
    );
    const kept = await env.cli(["work-queue", "delete", "default", "--pool", "ordered"]);
    expect(kept.code).toBe(1);
    expect(kept.stderr).toContain("cannot be deleted (pause it instead)");
  });

  test("limits show where a person looks: deployment inspect and schedule ls", async () => {
    const single = (await env.cli(["deployment", "inspect", "gate/single"])).stdout;
    expect(single).toMatch(/^Concurrency limit +1 \(CANCEL_NEW\)$/m);
    expect((await env.cli(["deployment", "inspect", "work/capped"])).stdout).toMatch(
      /^Concurrency limit +2 \(ENQUEUE\)$/m,
    );
    const free = await env.cli(["deployment", "inspect", "work/free"]);
    expect(free.stdout).toMatch(/^Concurrency limit +none$/m);
    expect(free.stdout).toMatch(/\(max_active_runs 3\) \(catchup: false\) \(paused\)/);
    const ls = (await env.cli(["deployment", "schedule", "ls", "work/free"])).stdout.split("\n");
    expect(ls[0]).toMatch(/ SCHEDULE +ACTIVE +MAX ACTIVE +CATCHUP$/);
    expect(ls[1]).toMatch(/ every 86400s +no +3 +no$/);
  });

  test("a pool's limit shows in its listing and can be removed", async () => {
    expect((await env.cli(["work-pool", "create", "capped", "--limit", "0"])).code).toBe(0);
    const row = (out: string) => out.split("\n").find((l) => l.startsWith("capped "));
    const listed = await env.cli(["work-pool", "ls"]);
    expect(listed.stdout.split("\n")[0]).toMatch(/^NAME +TYPE +QUEUES +LIMIT +PAUSED +ID$/);
    expect(row(listed.stdout)).toMatch(/^capped +process +default +0 +no /);
    const removed = await env.cli(["work-pool", "update", "capped", "--no-limit"]);
    expect(removed.code).toBe(0);
    expect((await env.json(["work-pool", "inspect", "capped"])).concurrency_limit).toBeNull();
    expect(row((await env.cli(["work-pool", "ls"])).stdout)).toMatch(/^capped +process +default +- +no /);
    const both = await env.cli(["work-pool", "update", "capped", "--limit", "2", "--no-limit"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--limit and --no-limit contradict each other");
  });

  test("bad limits are refused naming the flag", async () => {
    for (const [args, flag] of [
      [["work-queue", "create", "q", "--pool", "race", "--limit", "-1"], "--limit"],
      [["work-queue", "update", "default", "--pool", "race", "--priority", "1.5"], "--priority"],
      [["concurrency-limit", "create", "db", "many"], "<limit>"],
      // Only digits: forms Number() would take are refused too.
      [["concurrency-limit", "create", "db", "1e6"], "<limit>"],
      [["work-queue", "create", "q", "--pool", "race", "--limit", "0x10"], "--limit"],
      [["work-queue", "update", "default", "--pool", "race", "--priority", " 3"], "--priority"],
      [["work-queue", "update", "default", "--pool", "race", "--priority", "2000000"], "--priority"],
      [["work-pool", "update", "race", "--limit", "2000000000000"], "--limit"],
    ] as const) {
      const r = await env.cli([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${flag} must be a whole number`);
    }
    const both = await env.cli([
      "work-queue",
      "update",
      "default",
      "--pool",
      "race",
      "--limit",
      "2",
      "--no-limit",
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--limit and --no-limit contradict each other");
  });
});
