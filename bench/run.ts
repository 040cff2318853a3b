// npm run bench [-- scenario ...]: measures the compiled binary and prints a table per scenario,
// writing bench/results/<scenario>.json. Never part of the test suite.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const weir = process.env.WEIR_BIN ?? join(root, "dist", "weir");
const work = mkdtempSync(join(tmpdir(), "weir-bench-"));
const results = join(import.meta.dir, "results");
mkdirSync(results, { recursive: true });

type Row = { metric: string; value: number; unit: string; target?: string };

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (t0: number) => performance.now() - t0;
const rssMb = (pid: number) => {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

async function startServer(home: string, port: number) {
  const proc = Bun.spawn([weir, "server", "--port", String(port)], {
    env: { ...process.env, WEIR_HOME: home },
    stdout: "ignore",
    stderr: "inherit",
  });
  const api = `http://127.0.0.1:${port}/api`;
  for (;;) {
    if (
      await fetch(`${api}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await Bun.sleep(10);
  }
  return { proc, api };
}

const scenarios: Record<string, () => Promise<Row[]>> = {
  async cli() {
    const rows: Row[] = [];
    for (const args of [["--version"], ["--help"]]) {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        Bun.spawnSync([weir, ...args], { stdout: "ignore" });
        times.push(ms(t0));
      }
      const label = `weir ${args.join(" ")}`;
      rows.push({ metric: `${label} min`, value: Math.min(...times), unit: "ms" });
      rows.push({
        metric: `${label} median`,
        value: pct(times, 50),
        unit: "ms",
        target: args[0] === "--help" ? "< 50 ms" : undefined,
      });
      rows.push({ metric: `${label} max`, value: Math.max(...times), unit: "ms" });
    }
    return rows;
  },

  async footprint() {
    const home = join(work, "footprint");
    const { proc } = await startServer(home, 4391);
    await Bun.sleep(500);
    const rss = rssMb(proc.pid);
    proc.kill();
    await proc.exited;
    return [
      { metric: "server RSS after start", value: rss, unit: "MB", target: "< 80 MB" },
      { metric: "binary size", value: statSync(weir).size / 1024 / 1024, unit: "MB" },
    ];
  },

  async dispatch() {
    const n = Number(process.env.BENCH_RUNS ?? 50);
    const home = join(work, "dispatch");
    const project = join(work, "dispatch-project");
    mkdirSync(join(project, "flows"), { recursive: true });
    writeFileSync(
      join(project, "flows", "first.ts"),
      `import { flow, log } from "weir";\nexport const first = flow({ name: "first" }, async () => { log.info(String(Date.now())); });\n`,
    );
    writeFileSync(
      join(project, "weir.yaml"),
      "deployments:\n  - name: d\n    entrypoint: flows/first.ts:first\n    work_pool: { name: bench }\n",
    );
    const { proc, api } = await startServer(home, 4392);
    const env = { ...process.env, WEIR_HOME: home, WEIR_API_URL: api };
    const agent = Bun.spawn([weir, "agent", "--pool", "bench"], { env, stdout: "ignore", stderr: "inherit" });
    await Bun.sleep(500);
    Bun.spawnSync([weir, "deploy", "--all"], { cwd: project, env, stdout: "ignore" });
    const dep = (await fetch(`${api}/deployments/name/first/d`).then((r) => r.json())) as { id: string };
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${api}/deployments/${dep.id}/runs`, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      const created = Date.now();
      const { id } = (await res.json()) as { id: string };
      for (;;) {
        const run = (await fetch(`${api}/flow-runs/${id}`).then((r) => r.json())) as {
          state: { type: string };
        };
        if (["COMPLETED", "FAILED", "CRASHED"].includes(run.state.type)) break;
        await Bun.sleep(5);
      }
      const logs = (await fetch(`${api}/flow-runs/${id}/logs`).then((r) => r.json())) as {
        message: string;
      }[];
      lat.push(Number(logs[0]?.message) - created);
    }
    agent.kill();
    proc.kill();
    await Promise.all([agent.exited, proc.exited]);
    return [
      { metric: `dispatch p50 (n=${n})`, value: pct(lat, 50), unit: "ms", target: "< 100 ms" },
      { metric: "dispatch p95", value: pct(lat, 95), unit: "ms" },
      { metric: "dispatch p99", value: pct(lat, 99), unit: "ms" },
    ];
  },
};

/** The scheduler pass over 10,000 cron deployments, in-process against a real database file. */
scenarios.scheduler = async () => {
  const { openStore, newId } = await import("../core/store/index.ts");
  const { deployments, deploymentSchedules, flows, workPools } = await import("../core/store/schema.ts");
  const { DEFAULT_SETTINGS, schedulePass } = await import("../core/scheduler/index.ts");
  const n = Number(process.env.BENCH_DEPLOYMENTS ?? 10_000);
  const file = join(work, "scheduler.db");
  const store = await openStore({ url: file });
  const now = new Date().toISOString();
  await store.db.insert(workPools).values({
    id: newId(),
    created: now,
    updated: now,
    name: "bench",
    type: "process",
    isPaused: false,
    baseJobTemplate: {},
  });
  const flowId = newId();
  await store.db
    .insert(flows)
    .values({ id: flowId, created: now, updated: now, name: "bench-flow", tags: [] });
  // A realistic mix: thousands of distinct specs (minute and hour vary), two timezones.
  const cronFor = (k: number) => {
    const m = Math.floor(k / 5) % 60;
    const h = Math.floor(k / 300) % 24;
    return [`${m} * * * *`, `${m} ${h} * * *`, `*/15 * * * *`, `${m} ${h} * * 1-5`, `${m} ${h} 1 * *`][
      k % 5
    ]!;
  };
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, (_, j) => ({ id: newId(), k: i + j }));
    await store.db.insert(deployments).values(
      batch.map(({ id, k }) => ({
        id,
        created: now,
        updated: now,
        name: `d${k}`,
        flowId,
        isScheduleActive: true,
        parameters: {},
        tags: [],
        workPoolName: "bench",
        workQueueName: "default",
        jobVariables: {},
        enforceParameterSchema: true,
        paused: false,
      })),
    );
    await store.db.insert(deploymentSchedules).values(
      batch.map(({ id, k }) => ({
        id: newId(),
        created: now,
        updated: now,
        deploymentId: id,
        schedule: { cron: cronFor(k), timezone: k % 2 ? "UTC" : "Europe/Berlin", day_or: true },
        active: true,
        parameters: {},
        slug: null,
      })),
    );
  }
  const distinct = new Set(Array.from({ length: n }, (_, k) => `${cronFor(k)}|${k % 2}`)).size;
  const first = await schedulePass(store.db, DEFAULT_SETTINGS);
  const idle = await schedulePass(store.db, DEFAULT_SETTINGS);
  store.close();
  const size = ["", "-wal"].reduce(
    (sum, ext) => sum + (existsSync(file + ext) ? statSync(file + ext).size : 0),
    0,
  );
  return [
    { metric: `first pass (${n} cron deployments)`, value: first.ms, unit: "ms", target: "< 5000 ms" },
    { metric: "distinct schedule specs", value: distinct, unit: "" },
    { metric: "runs created by the first pass", value: first.created, unit: "" },
    { metric: "idle pass", value: idle.ms, unit: "ms", target: "< 200 ms" },
    { metric: "database size", value: size / 1024 / 1024, unit: "MB" },
  ];
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(scenarios);
try {
  for (const name of wanted) {
    const run = scenarios[name];
    if (!run) {
      console.error(`unknown scenario "${name}" (known: ${Object.keys(scenarios).join(", ")})`);
      process.exitCode = 2;
      continue;
    }
    const rows = await run();
    console.log(`\n${name}`);
    for (const r of rows)
      console.log(
        `  ${r.metric.padEnd(32)} ${r.value.toFixed(1).padStart(9)} ${r.unit.padEnd(3)} ${r.target ? `target ${r.target}` : ""}`,
      );
    writeFileSync(
      join(results, `${name}.json`),
      `${JSON.stringify({ scenario: name, at: new Date().toISOString(), rows }, null, 2)}\n`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
