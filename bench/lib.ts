// Helpers shared by the benchmark scenarios: the compiled binary, servers and agents on loopback,
// flow projects, and statistics. Benchmarks print figures; they never assert.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = join(import.meta.dir, "..");
export const WEIR = process.env.WEIR_BIN ?? join(ROOT, "dist", "weir");
export const WORK = mkdtempSync(join(tmpdir(), "weir-bench-"));

export interface Row {
  metric: string;
  value: number;
  unit: string;
  /** e.g. { below: 100 } or { atLeast: 50 }: printed as pass/miss. */
  target?: { below?: number; atLeast?: number };
  /** The same figure for the peer, when the scenario runs side by side. */
  peer?: number;
}

export const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

export const rssMb = (pid: number): number => {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** A Weir installation: its own WEIR_HOME, server and agents, stopped by `stop()`. */
export class Weir {
  readonly home: string;
  api = "";
  server: Subprocess | null = null;
  readonly children: Subprocess[] = [];
  /** More variables for this installation's processes. */
  extraEnv: Record<string, string> = {};

  /** `db`: a postgres:// URL to run on instead of the embedded file in WEIR_HOME. */
  constructor(
    name: string,
    readonly db?: string,
  ) {
    this.home = join(WORK, name);
  }

  get env(): Record<string, string> {
    return {
      ...(process.env as Record<string, string>),
      WEIR_HOME: this.home,
      WEIR_API_URL: this.api,
      NO_COLOR: "1",
      ...(this.db ? { WEIR_DATABASE_URL: this.db } : {}),
      ...this.extraEnv,
    };
  }

  async start(): Promise<this> {
    const port = await freePort();
    this.api = `http://127.0.0.1:${port}/api`;
    this.server = Bun.spawn([WEIR, "server", "--port", String(port)], {
      env: this.env,
      stdout: "ignore",
      stderr: "inherit",
    });
    for (;;) {
      const up = await fetch(`${this.api}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) return this;
      await Bun.sleep(10);
    }
  }

  async agent(pool: string, limit = 10, args: string[] = []): Promise<void> {
    const p = Bun.spawn(
      [WEIR, "agent", "--pool", pool, "--limit", String(limit), "--allow-dir", WORK, ...args],
      {
        env: this.env,
        stdout: "ignore",
        stderr: "inherit",
      },
    );
    this.children.push(p);
    for (let i = 0; i < 200; i++) {
      const agents = (await this.get(`/agents?pool=${pool}`)) as unknown[];
      if (agents.length >= this.children.length) return;
      await Bun.sleep(20);
    }
  }

  /** Writes a flow project and deploys it; returns deployment ids by name. */
  async deploy(files: Record<string, string>): Promise<Record<string, string>> {
    const dir = join(this.home, "project");
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
    const r = Bun.spawnSync([WEIR, "deploy", "--all", "--json"], {
      cwd: dir,
      env: this.env,
      stderr: "inherit",
    });
    if (r.exitCode !== 0) throw new Error(`deploy failed: ${r.stdout.toString()}`);
    const outcomes = JSON.parse(r.stdout.toString()) as {
      ok: boolean;
      deployment: { id: string; name: string };
    }[];
    return Object.fromEntries(outcomes.map((o) => [o.deployment.name, o.deployment.id]));
  }

  async get(path: string): Promise<unknown> {
    return (await fetch(this.api + path)).json();
  }

  async post(path: string, body: unknown = {}): Promise<any> {
    const res = await fetch(this.api + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  /** Polls a run until it is final; returns it with the time it was seen final. */
  /** Follows a run to its end by long poll (GET /flow-runs/ID/wait), as runDeployment would. */
  async waitFinal(id: string): Promise<{ run: any; seenAt: number }> {
    for (;;) {
      const run = (await this.get(`/flow-runs/${id}/wait?timeout_ms=30000`)) as any;
      if (["COMPLETED", "FAILED", "CRASHED", "CANCELLED"].includes(run.state.type))
        return { run, seenAt: performance.now() };
    }
  }

  async stop(): Promise<void> {
    for (const c of this.children) c.kill("SIGKILL");
    this.server?.kill("SIGTERM");
    await Promise.all([...this.children.map((c) => c.exited), this.server?.exited]);
  }
}

export const FIB = "const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));";
