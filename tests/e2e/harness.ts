import { Database } from "bun:sqlite";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SQL, type Subprocess } from "bun";
import { testDatabase } from "../postgres-backend.ts";

const ROOT = join(import.meta.dir, "../..");
export const BUILT = process.env.WEIR_BIN ?? join(ROOT, "dist", "weir");

/** A PATH without Node or Bun, so the binary proves it needs neither. */
const BARE_PATH = "/usr/bin:/bin";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** A long-running child (server, agent) whose output is kept for assertions. */
export class Service {
  out = "";
  constructor(readonly proc: Subprocess<"ignore", "pipe", "pipe">) {
    void this.#drain(proc.stdout);
    void this.#drain(proc.stderr);
  }
  async #drain(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this.out += decoder.decode(chunk, { stream: true });
  }
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = this.out.match(pattern);
      if (m) return m;
      if (Date.now() > until)
        throw new Error(`timed out waiting for ${pattern}; output so far:\n${this.out}`);
      if (this.proc.exitCode !== null)
        throw new Error(`process exited (${this.proc.exitCode}) before ${pattern}:\n${this.out}`);
      await Bun.sleep(20);
    }
  }
  stop(signal: NodeJS.Signals = "SIGTERM") {
    if (this.proc.exitCode === null) this.proc.kill(signal);
    return this.proc.exited;
  }
}

/**
 * One isolated Weir installation: the compiled binary copied alone into an empty folder, its own
 * WEIR_HOME (embedded database) and a server on its own loopback port.
 */
export class Env {
  readonly root = mkdtempSync(join(tmpdir(), "weir-e2e-"));
  readonly bin = join(this.root, "bin", "weir");
  readonly home = join(this.root, "home");
  readonly services: Service[] = [];
  port = 0;

  constructor() {
    mkdirSync(dirname(this.bin), { recursive: true });
    copyFileSync(BUILT, this.bin);
    chmodSync(this.bin, 0o755);
  }

  get apiUrl() {
    return `http://127.0.0.1:${this.port}/api`;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: BARE_PATH,
      HOME: this.root,
      WEIR_HOME: this.home,
      WEIR_API_URL: this.apiUrl,
      NO_COLOR: "1",
      // Every process of the installation (servers, `weir scheduler`) on the same database.
      ...(this.database ? { WEIR_DATABASE_URL: this.database } : {}),
      ...extra,
    };
  }

  #spawnOptions(opts: { cwd?: string; env?: Record<string, string> }) {
    return {
      cwd: opts.cwd ?? this.root,
      env: this.env(opts.env),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    } as const;
  }

  spawn(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Service {
    const s = new Service(Bun.spawn([this.bin, ...args], this.#spawnOptions(opts)));
    this.services.push(s);
    return s;
  }

  /** The database the servers of this installation share: a file in WEIR_HOME, or PostgreSQL. */
  database: string | null | undefined;

  async startServer(extra: string[] = [], env: Record<string, string> = {}): Promise<Service> {
    this.port ||= await freePort();
    if (this.database === undefined) this.database = await testDatabase();
    const s = this.spawn(["server", "--port", String(this.port), ...extra], { env });
    await s.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    return s;
  }

  async startAgent(pool = "local", extra: string[] = []): Promise<Service> {
    const s = this.spawn(["agent", "--pool", pool, ...extra]);
    await s.waitFor(/Agent .* started/);
    return s;
  }

  async cli(
    args: string[],
    opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; stdin?: string } = {},
  ): Promise<CliResult> {
    const proc = Bun.spawn([this.bin, ...args], {
      ...this.#spawnOptions(opts),
      ...(opts.stdin !== undefined ? { stdin: new TextEncoder().encode(opts.stdin) } : {}),
      timeout: opts.timeoutMs ?? 60_000,
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr };
  }

  async json<T = any>(args: string[], opts: { cwd?: string } = {}): Promise<T> {
    const r = await this.cli([...args, "--json"], opts);
    if (r.code !== 0) throw new Error(`weir ${args.join(" ")} failed (${r.code}):\n${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as T;
  }

  /**
   * Runs statements straight on the installation's database (a file, or PostgreSQL), with `?`
   * placeholders: what an older version or a person with a SQL shell could leave there.
   */
  async rawSql(statements: [string, unknown[]][]): Promise<void> {
    if (this.database) {
      const sql = new SQL(this.database);
      try {
        for (const [text, args] of statements) {
          let n = 0;
          await sql.unsafe(
            text.replace(/\?/g, () => `$${++n}`),
            args,
          );
        }
      } finally {
        await sql.close();
      }
      return;
    }
    const db = new Database(join(this.home, "weir.db"));
    try {
      db.run("PRAGMA busy_timeout = 5000");
      for (const [text, args] of statements) db.run(text, args as never[]);
    } finally {
      db.close();
    }
  }

  /** Writes a flow project (files by relative path) and returns its folder. */
  project(name: string, files: Record<string, string>): string {
    const dir = join(this.root, name);
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
    return dir;
  }

  /** The pid a test flow logged as `pid=N` (0 if it logged none within ~15 s). */
  async loggedPid(runId: string): Promise<number> {
    for (let i = 0; i < 300; i++) {
      const logs = (await fetch(`${this.apiUrl}/flow-runs/${runId}/logs`).then((r) => r.json())) as {
        message: string;
      }[];
      const pid = Number(
        logs
          .find((l) => l.message.startsWith("pid="))
          ?.message.slice(4)
          .split(" ")[0] ?? 0,
      );
      if (pid) return pid;
      await Bun.sleep(50);
    }
    return 0;
  }

  async waitForRun(id: string, done: (run: any) => boolean, timeoutMs = 20_000): Promise<any> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const run = await fetch(`${this.apiUrl}/flow-runs/${id}`).then((r) => r.json() as Promise<any>);
      if (done(run)) return run;
      if (Date.now() > until) throw new Error(`run ${id} still ${run.state?.type} after ${timeoutMs} ms`);
      await Bun.sleep(50);
    }
  }

  async dispose() {
    await Promise.all(this.services.map((s) => s.stop("SIGKILL")));
    rmSync(this.root, { recursive: true, force: true });
  }
}

export const HELLO_FLOW = `import * as v from "valibot";
import { flow, task } from "weir";

const greet = task({ name: "greet" }, async (name: string) => \`hello \${name}\`);

export const hello = flow(
  { name: "hello", params: v.object({ name: v.string(), times: v.optional(v.number(), 1) }) },
  async ({ name, times }, { log }) => {
    for (let i = 0; i < times; i++) log.info(await greet(name));
    return { ok: true };
  },
);
`;

export const HELLO_YAML = `deployments:
  - name: daily
    entrypoint: flows/hello.ts:hello
    parameters: { name: World }
    work_pool: { name: local }
`;

/** The first line a command printed on stderr, and whether anything looked like a stack trace. */
export function errorLine(r: CliResult): { line: string; stack: boolean } {
  return { line: r.stderr.split("\n")[0] ?? "", stack: /^\s+at .+[:(]\d+/m.test(r.stderr) };
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
