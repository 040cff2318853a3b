// The SDK through the compiled binary: subflows (child runs linked to their parent, with their own
// logs, task runs, retries and timeout; failures catchable; cancelled with the parent), runDeployment
// (in flows and scripts; parameters checked first; long-poll waiting; results), results stored and
// readable, deploy() from code making what weir.yaml makes, `weir run script.ts`, and serve().
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Env, errorLine, type Service } from "./harness.ts";

setDefaultTimeout(90_000);

const FLOWS = `import * as v from "valibot";
import { flow, log, runDeployment, SubflowFailed, task } from "weir";

const double = task({ name: "double" }, async (n: number) => n * 2);
let attempts = 0;

export const child = flow(
  { name: "child", params: v.object({ n: v.number() }) },
  async ({ n }, { log }) => {
    log.info(\`child got \${n}\`);
    if (n < 0) throw new Error("negative input");
    return { doubled: await double(n) };
  },
);

export const flaky = flow({ name: "flaky", retries: 1 }, async () => {
  attempts++;
  log.info(\`flaky attempt \${attempts}\`);
  if (attempts === 1) throw new Error("first attempt fails");
  return attempts;
});

export const sleepy = flow({ name: "sleepy", timeoutSeconds: 1 }, async (_p, { signal }) => {
  await new Promise((resolve) => signal.addEventListener("abort", resolve));
  await new Promise((r) => setTimeout(r, 50));
});

export const report = flow(
  { name: "report", params: v.object({ who: v.string(), count: v.optional(v.number(), 1) }) },
  async ({ who, count }, { log }) => {
    log.info(\`report for \${who} x\${count}\`);
    return \`report:\${who}:\${count}\`;
  },
);

export const waits = flow({ name: "waits" }, async (_p, { signal, log }) => {
  log.info("waiting");
  await new Promise((resolve) => signal.addEventListener("abort", resolve));
});

export const parent = flow({ name: "parent" }, async () => {
  const a = await child({ n: 21 });
  log.info(\`child returned \${JSON.stringify(a)}\`);
  let caught = "";
  try {
    await child({ n: -1 });
  } catch (err) {
    caught = \`\${(err as Error).name}: \${(err as Error).message}\`;
    log.warning(\`caught \${caught}\`);
  }
  const tries = await flaky({});
  let timedOut = "";
  await sleepy({}).catch((err: Error) => { timedOut = err.message; });
  const run = await runDeployment("report/nightly", { parameters: { who: "ops" }, tags: ["from-parent"] });
  const detached = await runDeployment("report/nightly", { parameters: { who: "solo" }, asSubflow: false, timeout: 0 });
  return { a, caught, tries, timedOut, report: await run.result(), reportRun: run.id, detached: detached.id, detachedResult: await detached.result() };
});

export const holder = flow({ name: "holder" }, async () => {
  await runDeployment("waits/remote", { timeout: 0 });
  await waits({});
});

export const big = flow({ name: "big" }, async () => "x".repeat(2 * 1024 * 1024));
export const odd = flow({ name: "odd" }, async () => ({ n: 1n }));
`;

const YAML = `deployments:
  - { name: nightly, entrypoint: flows/family.ts:report, work_pool: { name: local } }
  - { name: main, entrypoint: flows/family.ts:parent, work_pool: { name: local } }
  - { name: remote, entrypoint: flows/family.ts:waits, work_pool: { name: local } }
  - { name: main, entrypoint: flows/family.ts:holder, work_pool: { name: local } }
  - { name: main, entrypoint: flows/family.ts:big, work_pool: { name: local } }
  - { name: main, entrypoint: flows/family.ts:odd, work_pool: { name: local } }
  - { name: idle, entrypoint: flows/family.ts:report, work_pool: { name: idle } }
`;

let env: Env;
let project: string;
let agent: Service;
const api = async (path: string, init?: RequestInit) => {
  const r = await fetch(`${env.apiUrl}${path}`, init);
  return { status: r.status, json: (await r.json()) as any };
};
const runOf = async (deployment: string) => {
  const r = await env.cli(["deployment", "run", deployment, "--json"]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).id as string;
};
const logsOf = async (id: string) =>
  ((await api(`/flow-runs/${id}/logs`)).json as { message: string }[]).map((l) => l.message);

beforeAll(async () => {
  env = new Env();
  project = env.project("family", { "flows/family.ts": FLOWS, "weir.yaml": YAML });
  await env.startServer();
  for (const pool of ["local", "idle"]) expect((await env.cli(["work-pool", "create", pool])).code).toBe(0);
  const d = await env.cli(["deploy", "--all"], { cwd: project });
  expect(d.stdout).toContain("7 deployed, 0 failed");
  agent = await env.startAgent("local", ["--limit", "20"]);
});
afterAll(() => env.dispose());

describe("subflows and runDeployment in a flow", () => {
  let parentId: string;
  let result: any;
  let children: any[];

  beforeAll(async () => {
    parentId = await runOf("parent/main");
    const run = await env.waitForRun(parentId, (r) => r.state.type !== "RUNNING" && r.end_time, 60_000);
    expect(run.state.type).toBe("COMPLETED");
    result = (await api(`/flow-runs/${parentId}/result`)).json;
    children = (await api(`/flow-runs?parent=${parentId}`)).json;
  });

  test("each called flow is a run of its own, linked to the parent and to a task run there", async () => {
    const tasks = (await api(`/flow-runs/${parentId}/task-runs`)).json as any[];
    const byFlow = (name: string) => children.filter((c) => c.flow_name === name);
    expect(
      byFlow("child")
        .map((c) => c.state.type)
        .sort(),
    ).toEqual(["COMPLETED", "FAILED"]);
    expect(byFlow("report")).toHaveLength(1); // the asSubflow: false run is not a child
    for (const c of children) {
      expect(c.parent_flow_run_id).toBe(parentId);
      const placeholder = tasks.find((t) => t.id === c.parent_task_run_id);
      expect(placeholder).toBeDefined();
      expect(placeholder.state.type).toBe(c.state.type === "COMPLETED" ? "COMPLETED" : "FAILED");
    }
    const ok = byFlow("child").find((c) => c.state.type === "COMPLETED");
    // its own logs and task runs, its own result
    expect(await logsOf(ok.id)).toContain("child got 21");
    expect(await logsOf(parentId)).not.toContain("child got 21");
    expect(((await api(`/flow-runs/${ok.id}/task-runs`)).json as any[]).map((t) => t.name)).toEqual([
      "double",
    ]);
    expect((await api(`/flow-runs/${ok.id}/result`)).json).toEqual({ doubled: 42 });
    expect(result.a).toEqual({ doubled: 42 });
  });

  test("a failing subflow rejects the parent's call, which can catch it", async () => {
    expect(result.caught).toMatch(
      /^SubflowFailed: Subflow child \(flow run .+\) ended FAILED: negative input$/,
    );
    // flow-run logs prints every level on stdout: the log is the command's output.
    const logs = await env.cli(["flow-run", "logs", parentId]);
    expect(logs.stdout).toMatch(/WARNING +caught SubflowFailed: /);
    expect(logs.stderr).toBe("");
    // The failure's stack is the flow's own: the binary's bundle frames are left out.
    const failed = children.find((c) => c.flow_name === "child" && c.state.type === "FAILED");
    const states = (await api(`/flow-runs/${failed.id}/states`)).json as {
      type: string;
      data: { error?: { stack?: string } } | null;
    }[];
    const stack = states.find((x) => x.type === "FAILED")!.data!.error!.stack!;
    expect(stack).toMatch(/^Error: negative input\n\s+at .*\.ts:\d+:\d+/);
    expect(stack).not.toContain("$bunfs");
    expect(await logsOf(failed.id)).not.toContain("$bunfs");
  });

  test("a subflow has its own retries and timeout", () => {
    const flaky = children.find((c) => c.flow_name === "flaky");
    expect([flaky.state.type, flaky.run_count]).toEqual(["COMPLETED", 2]);
    expect(result.tries).toBe(2);
    const sleepy = children.find((c) => c.flow_name === "sleepy");
    expect([sleepy.state.type, sleepy.state.name]).toEqual(["FAILED", "TimedOut"]);
    expect(result.timedOut).toContain("exceeded its timeout of 1 s");
  });

  test("runDeployment starts the deployment's run as a child, waits for it and reads its result", async () => {
    const report = children.find((c) => c.flow_name === "report");
    expect(report.id).toBe(result.reportRun);
    expect(report.deployment_name).toBe("nightly");
    expect(report.tags).toContain("from-parent");
    expect(result.report).toBe("report:ops:1");
    expect(await logsOf(report.id)).toContain("report for ops x1");
    const detached = (await api(`/flow-runs/${result.detached}`)).json;
    expect(detached.parent_flow_run_id).toBeNull();
    expect(result.detachedResult).toBe("report:solo:1");
  });

  test("flow-run inspect shows children and parent; flow-run result prints the JSON", async () => {
    const out = await env.cli(["flow-run", "inspect", parentId]);
    expect(out.stdout).toContain("SUBFLOW RUN");
    for (const c of children) expect(out.stdout).toContain(c.id);
    const child = children.find((c) => c.flow_name === "child");
    const up = await env.cli(["flow-run", "inspect", child.id]);
    expect(up.stdout).toMatch(
      new RegExp(`Parent flow run +\\S+ \\(${parentId}\\), as task run ${child.parent_task_run_id}`),
    );
    const json = await env.json(["flow-run", "inspect", parentId]);
    expect(json.subflow_runs.map((c: any) => c.id).sort()).toEqual(children.map((c) => c.id).sort());
    const r = await env.cli(["flow-run", "result", parentId]);
    expect(JSON.parse(r.stdout).report).toBe("report:ops:1");
  });
});

/** A run of holder/main once both its children (in-process, and a deployment run) are running. */
async function holderWithChildren() {
  const id = await runOf("holder/main");
  const kids = async () => (await api(`/flow-runs?parent=${id}`)).json as any[];
  for (const until = Date.now() + 30_000; ; ) {
    const k = await kids();
    if (k.length === 2 && k.every((c) => c.state.type === "RUNNING")) return { id, kids };
    if (Date.now() > until) throw new Error(`children not running: ${JSON.stringify(k.map((c) => c.state))}`);
    await Bun.sleep(50);
  }
}

test("cancelling a parent cancels its running subflow and the deployment run it started", async () => {
  const { id, kids } = await holderWithChildren();
  const cancel = await env.cli(["flow-run", "cancel", id]);
  expect([cancel.code, cancel.stderr]).toEqual([0, ""]);
  await env.waitForRun(id, (r) => r.state.type === "CANCELLED", 30_000);
  for (const c of await kids()) await env.waitForRun(c.id, (r) => r.state.type === "CANCELLED", 30_000);
  const remote = (await kids()).find((c) => c.flow_name === "waits" && c.deployment_id);
  expect(remote).toBeDefined();
});

test("a subflow run cannot outlive its parent's process: kill -9 ends it Crashed with the reason", async () => {
  const { id, kids } = await holderWithChildren();
  const parent = (await api(`/flow-runs/${id}`)).json;
  const [, pid] = await agent.waitFor(new RegExp(`Started flow run \\S+ \\(${id}\\) as process (\\d+)`));
  process.kill(Number(pid), "SIGKILL");
  await env.waitForRun(id, (r) => r.state.type === "CRASHED", 30_000);
  const inside = (await kids()).find((c) => !c.deployment_id);
  const ended = await env.waitForRun(inside.id, (r) => r.state.type === "CRASHED", 30_000);
  expect(ended.state.message).toContain(`Its parent flow run ${parent.name} (${id}) ended Crashed`);
  // The deployment run it started runs elsewhere and goes on until cancelled itself.
  const remote = (await kids()).find((c) => c.deployment_id);
  expect((await api(`/flow-runs/${remote.id}`)).json.state.type).toBe("RUNNING");
  expect((await env.cli(["flow-run", "cancel", remote.id])).code).toBe(0);
});

describe("results", () => {
  test("a result over the limit leaves the run Completed, saying why it has none", async () => {
    const id = await runOf("big/main");
    const run = await env.waitForRun(id, (r) => r.end_time, 30_000);
    expect(run.state.type).toBe("COMPLETED");
    expect(run.state.message).toMatch(
      /result was not kept: .*over the 1048576-byte limit .*WEIR_MAX_RESULT_BYTES/,
    );
    const r = await env.cli(["flow-run", "result", id]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toEqual({
      line: expect.stringContaining("completed without a stored result"),
      stack: false,
    });
  });

  test("a value that is not JSON is said so; a run without a result yet says what it is", async () => {
    const id = await runOf("odd/main");
    const run = await env.waitForRun(id, (r) => r.end_time, 30_000);
    expect(run.state.message).toContain("cannot be written as JSON");
    const waiting = await env.cli(["deployment", "run", "report/idle", "--param", "who=x", "--json"]);
    const idle = JSON.parse(waiting.stdout).id;
    const r = await env.cli(["flow-run", "result", idle]);
    expect([r.code, errorLine(r).line]).toEqual([
      1,
      expect.stringContaining("has no result yet: it is Scheduled"),
    ]);
  });
});

describe("scripts: weir run script.ts", () => {
  test("deploy() and runDeployment() from a CI script, with nothing but the binary", async () => {
    env.project("family", {
      "ci.ts": `import { deploy, runDeployment } from "weir";
import * as v from "valibot";
import { report } from "./flows/family.ts";
v.parse(v.string(), "valibot is importable");
const [d] = await deploy({ flow: report, name: "from-code", workPool: "local", parameters: { who: "ci" }, tags: ["ci"], concurrencyLimit: { limit: 2, collisionStrategy: "CANCEL_NEW" }, schedules: [{ cron: "0 9 * * *", timezone: "Europe/Berlin" }], version: "7", description: "made in code" });
const run = await runDeployment("report/from-code", { parameters: { count: 3 } });
console.log(JSON.stringify({ deployment: d.id, state: run.state.type, result: await run.result(), argv: process.argv.slice(2) }));
`,
    });
    const r = await env.cli(["run", "ci.ts", "--", "a", "b"], { cwd: project });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(out).toMatchObject({ state: "COMPLETED", result: "report:ci:3", argv: ["a", "b"] });
  });

  test("deploy() creates exactly what the same weir.yaml entry creates", async () => {
    const fromCode = await env.json(["deployment", "inspect", "report/from-code"]);
    env.project("family", {
      "weir.yaml": `${YAML}  - name: from-code
    entrypoint: flows/family.ts:report
    parameters: { who: ci }
    tags: [ci]
    version: "7"
    description: made in code
    concurrency_limit: { limit: 2, collision_strategy: CANCEL_NEW }
    schedules: [{ cron: "0 9 * * *", timezone: Europe/Berlin }]
    work_pool: { name: local }
`,
    });
    const again = await env.cli(["deploy", "--name", "from-code"], { cwd: project });
    expect(again.stdout).toContain("report/from-code updated");
    const fromFile = await env.json(["deployment", "inspect", "report/from-code"]);
    const pick = (d: any) => ({
      id: d.id,
      entrypoint: d.entrypoint,
      path: d.path,
      parameters: d.parameters,
      tags: d.tags,
      version: d.version,
      description: d.description,
      work_pool_name: d.work_pool_name,
      work_queue_name: d.work_queue_name,
      job_variables: d.job_variables,
      pull_steps: d.pull_steps,
      concurrency_limit: d.concurrency_limit,
      enforce_parameter_schema: d.enforce_parameter_schema,
      parameter_openapi_schema: d.parameter_openapi_schema,
      schedules: d.schedules.map((s: any) => [s.schedule, s.active]),
    });
    expect(pick(fromFile)).toEqual(pick(fromCode));
    expect(fromCode).toMatchObject({
      entrypoint: "flows/family.ts:report",
      version: "7",
      concurrency_limit: { limit: 2, collision_strategy: "CANCEL_NEW" },
    });
  });

  test("a script's errors: unknown deployment, bad parameters, bad options; no agent: it stays Scheduled", async () => {
    const script = async (name: string, body: string) => {
      env.project("family", {
        [name]: `import { deploy, runDeployment } from "weir";\nimport { report } from "./flows/family.ts";\n${body}\n`,
      });
      return env.cli(["run", name], { cwd: project });
    };
    const unknown = await script("s1.ts", `await runDeployment("report/nighty");`);
    expect([unknown.code, errorLine(unknown)]).toEqual([
      1,
      {
        line: expect.stringContaining(
          'Deployment "report/nighty" does not exist (did you mean "report/nightly"?)',
        ),
        stack: false,
      },
    ]);
    const before = (await api("/flow-runs?limit=1000")).json.length;
    const params = await script(
      "s2.ts",
      `await runDeployment("report/nightly", { parameters: { who: 5 } });`,
    );
    expect(errorLine(params).line).toContain('parameter "who" must be string (got integer 5)');
    expect((await api("/flow-runs?limit=1000")).json.length).toBe(before); // no run was made
    const typo = await script(
      "s3.ts",
      `await deploy({ flow: report, name: "x", workpool: "local" } as never);`,
    );
    expect(errorLine(typo).line).toContain('unknown option "workpool" (did you mean "workPool"?)');
    const limit = await script("s4.ts", `await deploy({ flow: report, name: "x", concurrencyLimit: -1 });`);
    expect(limit.stderr).toMatch(
      /deploy\(\) options \(as weir\.yaml\):\d+:\d+: concurrency_limit: must be a whole number from 1 up \(got -1\)/,
    );
    expect(limit.stderr).not.toMatch(/^\s+at /m);
    const idle = await script(
      "s5.ts",
      `const r = await runDeployment("report/idle", { parameters: { who: "x" }, timeout: 1 });\nconsole.log("state=" + r.state.type);`,
    );
    expect(idle.code).toBe(0);
    expect(idle.stdout).toContain("state=SCHEDULED");
    expect(idle.stdout + idle.stderr).toContain(
      'no agent is polling work pool "idle" (start one with: weir agent --pool idle)',
    );
    // Its result is waited for with a warning saying why, and up to the timeout given.
    const result = await script(
      "s6.ts",
      `const r = await runDeployment("report/idle", { parameters: { who: "x" }, timeout: 0 });\nawait r.result({ timeout: 1 });`,
    );
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(
      'which nothing starts for now: no agent is polling work pool "idle"',
    );
    expect(result.stderr).toContain("is still Scheduled after 1 s");
    const cli = await env.cli(["deployment", "run", "report/idle", "--param", "who=y"]);
    expect(cli.stdout).toContain('The run stays Scheduled for now: no agent is polling work pool "idle"');
    // A paused pool or queue, or a pool deleted under the deployment, is said the same way.
    const waits = async () =>
      (await env.cli(["deployment", "run", "report/idle", "--param", "who=y"])).stdout.match(
        /The run stays Scheduled for now: (.*)\./,
      )?.[1];
    expect((await env.cli(["work-queue", "pause", "default", "--pool", "idle"])).code).toBe(0);
    expect(await waits()).toBe(
      'work queue "default" of pool "idle" is paused (resume it with: weir work-queue resume default --pool idle)',
    );
    expect((await env.cli(["work-pool", "pause", "idle"])).code).toBe(0);
    expect(await waits()).toBe('work pool "idle" is paused (resume it with: weir work-pool resume idle)');
    const deleted = await env.cli(["work-pool", "delete", "idle"]);
    expect(deleted.stdout).toContain(
      'Deleted work pool "idle"; 1 deployment(s) still name it (report/idle): their runs stay Scheduled until a pool of that name exists again',
    );
    expect(await waits()).toBe(
      'work pool "idle" does not exist (create it with: weir work-pool create idle, then start an agent)',
    );
    expect((await env.cli(["work-pool", "create", "idle"])).code).toBe(0);
  });

  test("a script that throws exits 1 with its own error; a flow file's default export still runs", async () => {
    env.project("family", {
      "boom.ts": `throw new TypeError("script broke");\n`,
      "default.ts": `import { flow } from "weir";\nexport default flow({ name: "dflt" }, async () => { console.log("default ran"); });\n`,
    });
    const boom = await env.cli(["run", "boom.ts", "--no-track"], { cwd: project });
    expect([boom.code, errorLine(boom).line]).toEqual([1, "weir: boom.ts failed: TypeError: script broke"]);
    const dflt = await env.cli(["run", "default.ts", "--no-track"], { cwd: project });
    expect([dflt.code, dflt.stdout.includes("default ran")]).toEqual([0, true]);
  });
});

describe("serve", () => {
  let served: Service;
  beforeAll(async () => {
    env.project("family", {
      "serve.ts": `import * as v from "valibot";
import { flow } from "weir";
export const greet = flow({ name: "greet", params: v.object({ who: v.optional(v.string(), "world") }) }, async ({ who }, { log, signal }) => {
  log.info(\`hello \${who}\`);
  if (who === "slow") await new Promise((resolve) => signal.addEventListener("abort", resolve));
  return \`hi \${who}\`;
});
await greet.serve({ name: "served", onStop: "cancel", schedules: [{ interval: 3600 }] });
console.log("serve returned");
`,
    });
    served = env.spawn(["run", "serve.ts"], { cwd: project });
    await served.waitFor(/Serving greet\/served/, 30_000);
  });

  test("runs requested runs in its own process, with no agent for its pool", async () => {
    const agents = (await api("/agents?pool=serve")).json as any[];
    expect(agents.map((a) => a.name)).toEqual([expect.stringMatching(/^serve-/)]);
    const r = await env.cli(["deployment", "run", "greet/served", "--param", "who=you", "--watch"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hello you");
    const run = (await api("/flow-runs?flow=greet")).json.find((x: any) => x.parameters.who === "you");
    expect((await api(`/flow-runs/${run.id}/result`)).json).toBe("hi you");
    expect(served.out).toContain("hello you");
    const d = await env.json(["deployment", "inspect", "greet/served"]);
    expect([d.work_pool_name, d.work_queue_name, d.is_schedule_active]).toEqual([
      "serve",
      "greet-served",
      true,
    ]);
  });

  test("SIGTERM stops it cleanly: the run in flight ends Cancelled, schedules pause", async () => {
    const id = JSON.parse(
      (await env.cli(["deployment", "run", "greet/served", "--param", "who=slow", "--json"])).stdout,
    ).id;
    await env.waitForRun(id, (r) => r.state.type === "RUNNING", 30_000);
    // In flight: its claim answer has reached serve and the flow has started (RUNNING alone is
    // also true of a claim whose answer is still on its way).
    await served.waitFor(/hello slow/, 30_000);
    served.proc.kill("SIGTERM");
    expect(await served.proc.exited).toBe(0);
    expect(served.out).toContain("serve returned");
    expect((await api(`/flow-runs/${id}`)).json.state.type).toBe("CANCELLED");
    expect((await env.json(["deployment", "inspect", "greet/served"])).is_schedule_active).toBe(false);
  });
});
