// Warm starts through the compiled binary: an agent's prewarmed `weir execute --warm` processes
// take runs with the run's own environment and folder (one process per run, as a cold start), a
// run that needs a process started its own way gets one, idle executors die with their agent;
// and `--isolation none` runs flows inside the agent with their own folders, fresh code and
// cancellation, handing runs that set env to a process of their own.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alive, Env, type Service } from "./harness.ts";

setDefaultTimeout(90_000);

const FLOW = (word: string) => `import { flow } from "weir";
export const where = flow({ name: "where" }, async (_p, { log }) => {
  log.info(\`pid=\${process.pid} cwd=\${process.cwd()} marker=\${process.env.MARKER ?? "-"} tz=\${new Date(0).getTimezoneOffset()} jit=\${process.env.BUN_JSC_thresholdForJITAfterWarmUp ?? "-"} word=${word}\`);
});
export const waits = flow({ name: "waits" }, async (_p, { signal }) => {
  await new Promise((resolve) => signal.addEventListener("abort", resolve));
});
`;

let env: Env;
let project: string;
beforeAll(async () => {
  env = new Env();
  project = env.project("warm", {
    "flows/f.ts": FLOW("first"),
    "weir.yaml": `deployments:
  - { name: plain, entrypoint: flows/f.ts:where, work_pool: { name: warm } }
  - name: marked
    entrypoint: flows/f.ts:where
    work_pool: { name: warm, job_variables: { env: { MARKER: m1 } } }
  - name: tokyo
    entrypoint: flows/f.ts:where
    work_pool: { name: warm, job_variables: { env: { TZ: Asia/Tokyo } } }
  - name: own-jit
    entrypoint: flows/f.ts:where
    work_pool: { name: warm, job_variables: { env: { BUN_JSC_thresholdForJITAfterWarmUp: "700" } } }
  - { name: inside, entrypoint: flows/f.ts:where, work_pool: { name: inline } }
  - name: inside-marked
    entrypoint: flows/f.ts:where
    work_pool: { name: inline, job_variables: { env: { MARKER: m2 } } }
  - { name: waits, entrypoint: flows/f.ts:waits, work_pool: { name: inline } }
`,
  });
  await env.startServer();
  for (const pool of ["warm", "inline"]) expect((await env.cli(["work-pool", "create", pool])).code).toBe(0);
  expect((await env.cli(["work-pool", "create", "boxes", "--type", "docker"])).code).toBe(0);
  expect((await env.cli(["deploy", "--all"], { cwd: project })).code).toBe(0);
});
afterAll(() => env.dispose());

/** Runs a deployment to its end and returns the `key=value` fields of its flow's log line. */
async function runAndRead(deployment: string): Promise<Record<string, string>> {
  const r = await env.cli(["deployment", "run", deployment, "--watch"]);
  expect(r.stdout + r.stderr).toContain("Completed");
  const line = r.stdout.split("\n").find((l) => l.includes("pid="));
  expect(line).toBeDefined();
  const run = r.stdout.match(/Created flow run \S+ \(([0-9a-f-]+)\)/)?.[1];
  expect(run).toBeDefined();
  return {
    ...Object.fromEntries([...line!.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
    run: run!,
  };
}

/** A run's state history (types) and how many attempts it counted. */
async function history(id: string): Promise<{ states: string[]; attempts: number }> {
  const states = (await fetch(`${env.apiUrl}/flow-runs/${id}/states`).then((r) => r.json())) as {
    type: string;
  }[];
  const run = (await fetch(`${env.apiUrl}/flow-runs/${id}`).then((r) => r.json())) as { run_count: number };
  return { states: states.map((s) => s.type), attempts: run.run_count };
}
const ONE_ATTEMPT = { states: ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"], attempts: 1 };

/**
 * Whether the claim recorded the run RUNNING (PENDING and RUNNING written in one transaction, at
 * one timestamp) rather than its engine once started (a process start later).
 */
async function startedByClaim(id: string): Promise<boolean> {
  const states = (await fetch(`${env.apiUrl}/flow-runs/${id}/states`).then((r) => r.json())) as {
    type: string;
    timestamp: string;
  }[];
  const at = (type: string) => states.find((s) => s.type === type)?.timestamp;
  expect(at("RUNNING")).toBeDefined();
  return at("PENDING") === at("RUNNING");
}

/** The `weir execute --warm` processes whose parent is `pid`. */
function warmChildren(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
        return ppid === pid && cmd.includes("execute") && cmd.includes("--warm");
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`never happened: ${what}`);
}

describe("prewarmed flow-run processes", () => {
  let agent: Service;
  test("each run gets a warm process of its own, with its job variables and its own folder", async () => {
    agent = await env.startAgent("warm", ["--prewarm", "2"]);
    expect(agent.out).toContain("2 executor(s) prewarmed");
    const agentPid = agent.proc.pid;
    await eventually(() => warmChildren(agentPid).length === 2, "two warm executors waiting");
    const ready = warmChildren(agentPid);

    const a = await runAndRead("where/plain");
    const b = await runAndRead("where/marked");
    // Both runs were taken by executors started before them, each its own process.
    expect(ready).toContain(Number(a.pid));
    expect(ready).toContain(Number(b.pid));
    // With executors waiting, the claim records the run RUNNING (one request less per run), and
    // the engine adds no RUNNING of its own.
    expect(await history(a.run!)).toEqual(ONE_ATTEMPT);
    expect(await startedByClaim(a.run!)).toBe(true);
    expect(await history(b.run!)).toEqual(ONE_ATTEMPT);
    expect(a.pid).not.toBe(b.pid);
    // Executors compile less of the code they run once (see EXECUTOR_JIT).
    expect(a.jit).toBe("3000");
    expect(a.marker).toBe("-");
    expect(b.marker).toBe("m1");
    // set_working_directory (weir deploy's pull step) moved each run into the project
    expect(a.cwd).toBe(project);
    // the pool is refilled after each take
    await eventually(() => warmChildren(agentPid).length === 2, "the pool refilled to two");
    for (const pid of ready) expect(warmChildren(agentPid)).not.toContain(pid);
  });

  test("a run whose env only takes effect at process start (TZ, BUN_*) gets a process started with it", async () => {
    const waiting = warmChildren(agent.proc.pid);
    const t = await runAndRead("where/tokyo");
    expect(t.tz).toBe("-540");
    expect(t.jit).toBe("3000");
    expect(waiting).not.toContain(Number(t.pid));
    // A JIT setting of the run's own wins over the executors' (and gets a process started with it).
    const own = await runAndRead("where/own-jit");
    expect(own.jit).toBe("700");
    expect(waiting).not.toContain(Number(own.pid));
    // Its claim may have started it (an executor was waiting), and a cold process takes that on.
    expect(await history(t.run!)).toEqual(ONE_ATTEMPT);
  });

  test("idle warm executors do not outlive their agent (kill -9)", async () => {
    const idle = warmChildren(agent.proc.pid);
    expect(idle.length).toBe(2);
    await agent.stop("SIGKILL");
    await eventually(() => idle.every((pid) => !alive(pid)), "the idle executors exited");
  });

  test("with --prewarm 0 the claim leaves a run PENDING and its process records RUNNING", async () => {
    const cold = await env.startAgent("warm", ["--prewarm", "0"]);
    try {
      const r = await runAndRead("where/plain");
      expect(await history(r.run!)).toEqual(ONE_ATTEMPT);
      expect(await startedByClaim(r.run!)).toBe(false);
    } finally {
      await cold.stop();
    }
  });
});

describe("--isolation none", () => {
  let agent: Service;
  test("flows run inside the agent, which keeps its folder, and an edited flow file is picked up", async () => {
    agent = await env.startAgent("inline", ["--isolation", "none"]);
    expect(agent.out).toContain("flows run inside the agent");
    expect(warmChildren(agent.proc.pid)).toEqual([]);
    const first = await runAndRead("where/inside");
    expect(Number(first.pid)).toBe(agent.proc.pid);
    // The claim records it started (PENDING and RUNNING at once); the engine adds no RUNNING.
    expect(await history(first.run!)).toEqual(ONE_ATTEMPT);
    expect(await startedByClaim(first.run!)).toBe(true);
    // the process keeps the agent's folder (the trade-off the README states): runs share it
    expect(first.cwd).toBe(env.root);
    expect(first.word).toBe("first");
    writeFileSync(join(project, "flows/f.ts"), FLOW("second"));
    const second = await runAndRead("where/inside");
    expect(second.word).toBe("second");
    expect(Number(second.pid)).toBe(agent.proc.pid);
  });

  test("a run that sets env gets a process of its own, saying why", async () => {
    const r = await runAndRead("where/inside-marked");
    expect(Number(r.pid)).not.toBe(agent.proc.pid);
    expect(r.marker).toBe("m2");
    expect(agent.out).toContain("gets a process of its own: its job variables set env (MARKER)");
    // Started by the claim, so the process it got is told not to start it again.
    expect(await history(r.run!)).toEqual(ONE_ATTEMPT);
  });

  test("cancelling a run inside the agent ends it CANCELLED and the agent goes on", async () => {
    const { id } = (await env.json(["deployment", "inspect", "waits/waits"])) as { id: string };
    const run = await fetch(`${env.apiUrl}/deployments/${id}/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    }).then((r) => r.json() as Promise<{ id: string }>);
    await env.waitForRun(run.id, (x) => x.state.type === "RUNNING");
    expect((await env.cli(["flow-run", "cancel", run.id])).code).toBe(0);
    const ended = await env.waitForRun(run.id, (x) => x.state.type === "CANCELLED");
    expect(ended.state.type).toBe("CANCELLED");
    expect(agent.proc.exitCode).toBeNull();
    expect((await runAndRead("where/inside")).word).toBe("second");
  });

  test("bad settings are refused with the flag and the fix", async () => {
    const docker = await env.cli(["agent", "--pool", "boxes", "--isolation", "none"]);
    expect(docker.code).not.toBe(0);
    expect(docker.stderr).toContain(
      '--isolation none runs flows inside the agent, which only a process pool can do; work pool "boxes" is a docker pool',
    );
    expect(docker.stderr).not.toMatch(/\n\s+at /);
    const neg = await env.cli(["agent", "--pool", "warm", "--prewarm", "-1"]);
    expect(neg.code).not.toBe(0);
    expect(neg.stderr).toContain("--prewarm must be a whole number from 0 to 64");
    const mode = await env.cli(["agent", "--pool", "warm", "--isolation", "threads"]);
    expect(mode.code).not.toBe(0);
    expect(mode.stderr).toContain("--isolation");
    expect(mode.stderr).toContain("process, none");
  });
});
