// `npm run bench -- peers`: the chain and throughput workloads on Weir and on graphile-worker
// (PostgreSQL job queue, npm), side by side in one run, with the ratio Weir/peer per figure.
// Installs what it needs (Debian's postgresql, npm's graphile-worker without saving it), starts
// PostgreSQL on loopback in a temp folder, and stops it afterwards. Never part of CI.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, pct, ROOT, type Row, WEIR, Weir, WORK } from "./lib.ts";
import { CHAIN_FLOWS, measureChain } from "./scenarios/chain.ts";
import { measureThroughput, THREE_STEPS } from "./scenarios/throughput.ts";

const sh = (cmd: string[], opts: { cwd?: string; quiet?: boolean } = {}) => {
  const r = Bun.spawnSync(cmd, {
    cwd: opts.cwd,
    stdout: opts.quiet ? "ignore" : "inherit",
    stderr: "inherit",
  });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${r.exitCode})`);
};

function pgBin(): string {
  const find = () => {
    if (!existsSync("/usr/lib/postgresql")) return null;
    const versions = readdirSync("/usr/lib/postgresql").sort();
    return versions.length ? join("/usr/lib/postgresql", versions.at(-1)!, "bin") : null;
  };
  let bin = find();
  if (!bin) {
    console.log("installing PostgreSQL from Debian's packages…");
    sh(["apt-get", "update", "-qq"], { quiet: true });
    sh(["apt-get", "install", "-y", "-qq", "postgresql"], { quiet: true });
    bin = find();
  }
  if (!bin) throw new Error("PostgreSQL binaries not found after installing postgresql");
  return bin;
}

async function startPostgres(): Promise<{ url: string; stop: () => void }> {
  const bin = pgBin();
  const dir = join(WORK, "pg");
  mkdirSync(dir, { recursive: true });
  chmodSync(WORK, 0o755);
  sh(["chown", "-R", "postgres:postgres", dir]);
  const asPg = (args: string[]) => ["runuser", "-u", "postgres", "--", ...args];
  sh(asPg([join(bin, "initdb"), "-D", join(dir, "data"), "-A", "trust", "-U", "postgres"]), { quiet: true });
  const port = await freePort();
  // synchronous_commit=off is PostgreSQL's counterpart of Weir's WAL with synchronous=NORMAL:
  // committed work survives a process crash, the last moments may not survive a power loss.
  sh(
    asPg([
      join(bin, "pg_ctl"),
      "-D",
      join(dir, "data"),
      "-l",
      join(dir, "log"),
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c synchronous_commit=off`,
      "start",
    ]),
    { quiet: true },
  );
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () =>
      sh(asPg([join(bin, "pg_ctl"), "-D", join(dir, "data"), "-m", "fast", "stop"]), { quiet: true }),
  };
}

type Helpers = { addJob(task: string, payload: unknown): Promise<unknown> };
/** The part of graphile-worker used here (it is installed by this script, not a dependency). */
interface GraphileWorker {
  run(o: {
    connectionString: string;
    concurrency: number;
    noHandleSignals: boolean;
    pollInterval: number;
    logger: unknown;
    taskList: Record<string, (payload: unknown, helpers: Helpers) => Promise<void>>;
  }): Promise<{ stop(): Promise<void> }>;
  makeWorkerUtils(o: { connectionString: string }): Promise<Helpers & { release(): Promise<void> }>;
  Logger: new (factory: () => () => void) => unknown;
}

async function graphileWorker(): Promise<GraphileWorker> {
  const dir = join(ROOT, "node_modules", "graphile-worker");
  if (!existsSync(join(dir, "package.json"))) {
    console.log("installing graphile-worker from npm (not saved to package.json)…");
    sh(["npm", "install", "--no-save", "--no-audit", "--no-fund", "graphile-worker"], {
      cwd: ROOT,
      quiet: true,
    });
  }
  // By path: a package installed after this process started is not found by name.
  const main =
    (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { main?: string }).main ?? "index.js";
  return (await import(join(dir, main))) as GraphileWorker;
}

// The same naive recursion as FIB in lib.ts, which the Weir flows embed as source.
const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));

async function peerFigures(url: string) {
  const gw = await graphileWorker();
  const done = new Map<string, () => void>();
  let compute = 0;
  const runner = await gw.run({
    connectionString: url,
    concurrency: 10,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: new gw.Logger(() => () => {}),
    taskList: {
      fib: async (payload, helpers) => {
        const p = payload as { run: string; i: number; count: number; n: number };
        const t0 = performance.now();
        fib(p.n);
        compute += performance.now() - t0;
        if (p.i + 1 < p.count) await helpers.addJob("fib", { ...p, i: p.i + 1 });
        else done.get(p.run)?.();
      },
      step: async (payload, helpers) => {
        const p = payload as { run: string; step: number };
        if (p.step < 3) await helpers.addJob("step", { ...p, step: p.step + 1 });
        else done.get(p.run)?.();
      },
    },
  });
  const utils = await gw.makeWorkerUtils({ connectionString: url });
  const finished = (run: string) => new Promise<void>((resolve) => done.set(run, resolve));

  const chain = async (count: number, n: number) => {
    let best = { total: Number.POSITIVE_INFINITY, compute: 0 };
    for (let k = 0; k < 3; k++) {
      compute = 0;
      const run = `chain-${count}-${n}-${k}`;
      const t0 = performance.now();
      const end = finished(run);
      await utils.addJob("fib", { run, i: 0, count, n });
      await end;
      const total = performance.now() - t0;
      if (total < best.total) best = { total, compute };
    }
    return best;
  };
  const c40 = await chain(40, 10);
  const c10 = await chain(10, 33);

  const burstOf200 = async (label: string) => {
    const t0 = performance.now();
    const latencies: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const run = `${label}-${i}`;
        const end = finished(run);
        const s = performance.now();
        await utils.addJob("step", { run, step: 1 });
        await end;
        latencies.push(performance.now() - s);
      }),
    );
    return { runsPerSecond: 200 / ((performance.now() - t0) / 1000), burst: latencies };
  };
  const first = await burstOf200("tp");
  const warm = await burstOf200("tp-warm");
  const serial: number[] = [];
  for (let i = 0; i < 100; i++) {
    const run = `serial-${i}`;
    const end = finished(run);
    const s = performance.now();
    await utils.addJob("step", { run, step: 1 });
    await end;
    serial.push(performance.now() - s);
  }
  await utils.release();
  await runner.stop();
  return { c40, c10, runsPerSecond: first.runsPerSecond, burst: first.burst, warm, serial };
}

/** How the agent runs flows in each measured mode. */
const MODES: { label: string; args: string[] }[] = [
  { label: "cold process", args: ["--prewarm", "0"] },
  { label: "process, prewarm 2 (default)", args: [] },
  { label: "process, prewarm 10", args: ["--prewarm", "10"] },
  { label: "isolation none", args: ["--isolation", "none"] },
];

async function weirFigures(args: string[]) {
  const weir = await new Weir("peers").start();
  try {
    await weir.agent("peers", 10, args);
    const ids = await weir.deploy({
      "flows/chain.ts": CHAIN_FLOWS,
      "flows/three.ts": THREE_STEPS,
      "weir.yaml": [
        "deployments:",
        "  - name: c40\n    entrypoint: flows/chain.ts:chain40\n    work_pool: { name: peers }",
        "  - name: c10\n    entrypoint: flows/chain.ts:chain10\n    work_pool: { name: peers }",
        "  - name: three\n    entrypoint: flows/three.ts:three\n    work_pool: { name: peers }",
        "",
      ].join("\n"),
    });
    const c40 = await measureChain(weir, ids.c40!);
    const c10 = await measureChain(weir, ids.c10!);
    const { runsPerSecond, burst, warm, serial } = await measureThroughput(weir, ids.three!);
    return { c40, c10, runsPerSecond, burst, warm, serial };
  } finally {
    await weir.stop();
  }
}

/**
 * How many processes this machine starts per second, 10 at a time, each exiting at once: Bun's
 * runtime alone (`bun -e ""`), and `weir execute --warm` (the executor a run gets: runtime,
 * engine and plugins loaded). A process per run cannot go faster than this, whatever it does.
 */
async function processStarts(argv: string[]): Promise<number> {
  const total = 100;
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (started < total) {
        started++;
        await Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exited;
      }
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

type Figures = Awaited<ReturnType<typeof peerFigures>>;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Several rounds' figures as one: throughputs by their median round, latencies pooled (the
 * percentiles are taken over every round's samples), chains by the round with the median total.
 */
function pooled(rounds: Figures[]): Figures {
  const chain = (pick: (f: Figures) => { total: number; compute: number }) => {
    const totals = rounds.map(pick);
    const mid = median(totals.map((t) => t.total));
    return totals.find((t) => t.total === mid)!;
  };
  return {
    c40: chain((f) => f.c40),
    c10: chain((f) => f.c10),
    runsPerSecond: median(rounds.map((f) => f.runsPerSecond)),
    burst: rounds.flatMap((f) => f.burst),
    warm: {
      runsPerSecond: median(rounds.map((f) => f.warm.runsPerSecond)),
      burst: rounds.flatMap((f) => f.warm.burst),
    },
    serial: rounds.flatMap((f) => f.serial),
  };
}

/**
 * `PEERS_ROUNDS=N` (default 1) measures the peer and each mode N times, alternating, and pools the
 * rounds (this machine's load moves figures by 20-40 % between minutes; alternating spreads that
 * over both sides); `PEERS_MODES=none,prewarm` measures only the modes whose label contains one.
 */
export async function peers(): Promise<Row[]> {
  const pg = await startPostgres();
  try {
    const rounds = Math.max(1, Number(process.env.PEERS_ROUNDS ?? 1) || 1);
    const only = (process.env.PEERS_MODES ?? "").split(",").filter(Boolean);
    const modes = only.length ? MODES.filter((m) => only.some((o) => m.label.includes(o))) : MODES;
    const peerRounds: Figures[] = [];
    const weirRounds = new Map<string, Figures[]>(modes.map((m) => [m.label, []]));
    for (let r = 0; r < rounds; r++) {
      peerRounds.push(await peerFigures(pg.url));
      for (const mode of modes) weirRounds.get(mode.label)!.push(await weirFigures(mode.args));
    }
    const p = pooled(peerRounds);
    const rows: Row[] = [
      {
        metric: "floor: bare Bun runtime starts/s (bun -e '', 10 at a time)",
        value: await processStarts([process.execPath, "-e", ""]),
        peer: p.runsPerSecond,
        unit: "/s",
      },
      {
        metric: "floor: executor starts/s (weir execute --warm, exits at once)",
        value: await processStarts([WEIR, "execute", "--warm"]),
        peer: p.runsPerSecond,
        unit: "/s",
      },
    ];
    for (const mode of modes) {
      const w = pooled(weirRounds.get(mode.label)!);
      const nonCompute = (x: { total: number; compute: number }) => (100 * (x.total - x.compute)) / x.total;
      const m = (metric: string) => `${metric} [${mode.label}]`;
      const isolated = mode.label !== "isolation none";
      rows.push(
        { metric: m("chain 40 x fib(10): total"), value: w.c40.total, peer: p.c40.total, unit: "ms" },
        { metric: m("chain 10 x fib(33): total"), value: w.c10.total, peer: p.c10.total, unit: "ms" },
        {
          metric: m("chain 10 x fib(33): not compute"),
          value: nonCompute(w.c10),
          peer: nonCompute(p.c10),
          unit: "%",
        },
        {
          metric: m("3 steps, 200 at once: runs/s"),
          value: w.runsPerSecond,
          peer: p.runsPerSecond,
          unit: "/s",
          target: { atLeast: p.runsPerSecond * (isolated ? 0.5 : 1) },
        },
        {
          metric: m("3 steps, 200 at once: median latency"),
          value: pct(w.burst, 50),
          peer: pct(p.burst, 50),
          unit: "ms",
        },
        {
          metric: m("3 steps, 200 at once again (warm): runs/s"),
          value: w.warm.runsPerSecond,
          peer: p.warm.runsPerSecond,
          unit: "/s",
          target: { atLeast: p.warm.runsPerSecond * (isolated ? 0.5 : 1) },
        },
        {
          metric: m("3 steps, one after another: median"),
          value: pct(w.serial, 50),
          peer: pct(p.serial, 50),
          unit: "ms",
          target: { below: pct(p.serial, 50) * (isolated ? 2 : 1) },
        },
        {
          metric: m("3 steps, one after another: p95"),
          value: pct(w.serial, 95),
          peer: pct(p.serial, 95),
          unit: "ms",
        },
      );
    }
    return rows;
  } finally {
    pg.stop();
  }
}
