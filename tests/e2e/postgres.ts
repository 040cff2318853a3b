// A throwaway PostgreSQL server for tests and benchmarks: Debian's server binaries
// (/usr/lib/postgresql/<version>/bin), a fresh cluster in a temp folder, a loopback port, trust auth
// for the role "weir", durability off for speed. initdb refuses to run as root, so as root every
// server command runs as the "postgres" user (setpriv, else su) and the folder is handed to that user.
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./harness.ts";

export interface PostgresServer {
  /**
   * postgres://weir@127.0.0.1:PORT/weir: an empty database "weir" owned by the superuser "weir".
   * With `tls`, the server takes TCP connections over TLS only (a self-signed certificate) and the
   * URL asks for it (`?sslmode=require`).
   */
  readonly url: string;
  readonly port: number;
  /** The cluster's data folder (pg_hba.conf, postgresql.conf). */
  readonly data: string;
  /** With `tls`: the server's self-signed certificate (PEM), usable as sslrootcert. */
  readonly certificate: string | null;
  /** Creates another (empty) database on this server and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown, then start again on the same port and data folder (for reconnect tests). */
  restart(): Promise<void>;
  /** Stops the server and removes its folder. */
  kill(): Promise<void>;
  /** Same as kill(). */
  dispose(): Promise<void>;
  /** What the server printed so far (for assertion messages). */
  log(): string;
}

const USER = "weir";
const START_TIMEOUT_MS = 60_000;

/** The newest installed server's bin folder (WEIR_POSTGRES_BIN overrides), or null. */
function binDir(): string | null {
  const override = process.env.WEIR_POSTGRES_BIN;
  if (override) return existsSync(join(override, "postgres")) ? override : null;
  const base = "/usr/lib/postgresql";
  let versions: string[];
  try {
    versions = readdirSync(base);
  } catch {
    return null;
  }
  const dirs = versions
    .sort((a, b) => Number.parseFloat(a) - Number.parseFloat(b) || a.localeCompare(b))
    .map((v) => join(base, v, "bin"))
    .filter((d) => existsSync(join(d, "initdb")) && existsSync(join(d, "postgres")));
  return dirs.at(-1) ?? null;
}

const isRoot = () => process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } | null {
  const id = (flag: string) => {
    const r = Bun.spawnSync(["id", flag, "postgres"], { stdout: "pipe", stderr: "ignore" });
    return r.exitCode === 0 ? Number(r.stdout.toString().trim()) : Number.NaN;
  };
  const uid = id("-u");
  const gid = id("-g");
  return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
}

/** Why a PostgreSQL server cannot be started here (one line), or null when it can. */
export function postgresMissing(): string | null {
  if (!binDir())
    return "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): apt-get install postgresql (.ci/run installs it)";
  if (isRoot() && !postgresUser())
    return 'running as root but there is no "postgres" user to run the server as: apt-get install postgresql (.ci/run installs it)';
  return null;
}

/**
 * For a test file that starts PostgreSQL servers of its own: why it is skipped here (one line,
 * printed under `what`), or null. In the suites' second pass, on PostgreSQL, it has already run.
 */
export function postgresOnlyMissing(what: string): string | null {
  const missing =
    process.env.WEIR_TEST_BACKEND === "postgres" ? "it ran in the first pass" : postgresMissing();
  if (missing) console.log(`${what} skipped: ${missing}`);
  return missing;
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const SETPRIV = Bun.which("setpriv");

/**
 * argv run as the postgres user when we are root (initdb refuses root), else as ourselves. With
 * util-linux's setpriv the server is our direct child and gets SIGQUIT (immediate shutdown) if this
 * process dies without dispose() (crash, SIGKILL, test timeout); else su, as Debian documents.
 */
function asServerUser(argv: string[], { dieWithUs = false } = {}): string[] {
  const pdeathsig = dieWithUs ? ["--pdeathsig", "SIGQUIT"] : [];
  if (!isRoot()) return SETPRIV && dieWithUs ? [SETPRIV, ...pdeathsig, "--", ...argv] : argv;
  if (SETPRIV)
    return [SETPRIV, "--reuid=postgres", "--regid=postgres", "--init-groups", ...pdeathsig, "--", ...argv];
  return ["su", "postgres", "-s", "/bin/sh", "-c", argv.map(quote).join(" ")];
}

class Server implements PostgresServer {
  readonly dir: string;
  readonly data: string;
  port = 0;
  #bin: string;
  #proc: Subprocess<"ignore", "ignore", "pipe"> | null = null;
  #log = "";
  #gone = false;
  #onExit = () => this.#killNow();
  #janitor: Subprocess | null = null;

  readonly tls: boolean;

  get certificate(): string | null {
    return this.tls ? join(this.data, "server.crt") : null;
  }

  constructor(bin: string, tls = false) {
    this.#bin = bin;
    this.tls = tls;
    // Short path: the Unix socket lives here too (-k) and socket paths are limited to ~107 bytes.
    this.dir = mkdtempSync("/tmp/weir-pg-");
    this.data = join(this.dir, "data");
    if (isRoot()) {
      const pg = postgresUser();
      if (!pg) throw new Error(postgresMissing() ?? "no postgres user");
      // mkdtemp makes a 0700 folder owned by root: postgres must own (and so traverse) it.
      chownSync(this.dir, pg.uid, pg.gid);
    }
    process.once("exit", this.#onExit);
    // bun test runs no "exit" listeners: a watcher removes the folder once this process is gone
    // (the server itself then dies of its parent-death signal, so wait for it to let go first).
    this.#janitor = Bun.spawn(
      [
        "sh",
        "-c",
        'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; i=0; ' +
          'while [ -e "$2/data/postmaster.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; rm -rf "$2"',
        "janitor",
        String(process.pid),
        this.dir,
      ],
      { stdin: "ignore", stdout: "ignore", stderr: "ignore" },
    );
    this.#janitor.unref();
  }

  get url(): string {
    return this.urlOf(USER);
  }

  urlOf(database: string): string {
    return `postgres://${USER}@127.0.0.1:${this.port}/${database}${this.tls ? "?sslmode=require" : ""}`;
  }

  log(): string {
    return this.#log;
  }

  async init(): Promise<void> {
    const initdb = Bun.spawn(
      asServerUser([
        join(this.#bin, "initdb"),
        "-D",
        this.data,
        "-A",
        "trust",
        "-U",
        USER,
        "-E",
        "UTF8",
        // C collation: text compares byte-wise, like SQLite's default BINARY collation.
        "--no-locale",
        "--no-sync",
        "--no-instructions",
      ]),
      { cwd: this.dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    const [out, err, code] = await Promise.all([
      new Response(initdb.stdout).text(),
      new Response(initdb.stderr).text(),
      initdb.exited,
    ]);
    if (code !== 0) throw new Error(`initdb failed (exit ${code}):\n${out}${err}`);
    if (this.tls) await this.#tlsOnly();
  }

  /** A self-signed certificate, and TCP connections refused unless they use TLS. */
  async #tlsOnly(): Promise<void> {
    const cert = join(this.data, "server.crt");
    const key = join(this.data, "server.key");
    const openssl = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ].concat(["-keyout", key, "-out", cert]),
      { stdout: "pipe", stderr: "pipe" },
    );
    if (openssl.exitCode !== 0) throw new Error(`openssl failed: ${openssl.stderr.toString()}`);
    writeFileSync(
      join(this.data, "pg_hba.conf"),
      "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
    );
    appendFileSync(join(this.data, "postgresql.conf"), "\nssl = on\n");
    const pg = isRoot() ? postgresUser() : null;
    for (const f of [cert, key, join(this.data, "pg_hba.conf")]) {
      if (pg) chownSync(f, pg.uid, pg.gid);
      chmodSync(f, 0o600);
    }
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    const proc = Bun.spawn(
      asServerUser(
        [
          join(this.#bin, "postgres"),
          "-D",
          this.data,
          "-p",
          String(this.port),
          "-k",
          this.dir,
          "-c",
          "listen_addresses=127.0.0.1",
          "-c",
          "max_connections=200",
          // Tests only: nothing here has to survive a machine crash.
          "-c",
          "fsync=off",
          "-c",
          "synchronous_commit=off",
          "-c",
          "full_page_writes=off",
        ],
        { dieWithUs: true },
      ),
      { cwd: this.dir, stdin: "ignore", stdout: "ignore", stderr: "pipe" },
    );
    this.#proc = proc;
    proc.unref(); // a server nobody disposed does not keep the process alive (see #killNow)
    void this.#drain(proc.stderr);
    await this.#waitReady(proc);
  }

  async #drain(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this.#log += decoder.decode(chunk, { stream: true });
  }

  async #waitReady(proc: Subprocess): Promise<void> {
    const until = Date.now() + START_TIMEOUT_MS;
    let lastError = "";
    for (;;) {
      if (proc.exitCode !== null)
        throw new Error(`postgres exited (${proc.exitCode}) before accepting connections:\n${this.#log}`);
      const client = new Bun.SQL({ url: this.urlOf("postgres"), max: 1, connectionTimeout: 2 });
      try {
        await client`select 1`;
        return;
      } catch (e) {
        lastError = String(e);
      } finally {
        await client.close().catch(() => {});
      }
      if (Date.now() > until)
        throw new Error(
          `postgres did not accept connections on port ${this.port} within ${START_TIMEOUT_MS / 1000} s ` +
            `(last error: ${lastError}); server log:\n${this.#log}`,
        );
      await Bun.sleep(50);
    }
  }

  /** The postmaster's PID (first line of postmaster.pid), if it is running. */
  #postmasterPid(): number | null {
    try {
      const pid = Number(readFileSync(join(this.data, "postmaster.pid"), "utf8").split("\n")[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  /** Fast shutdown (SIGINT: roll back sessions, checkpoint, exit); immediate, then SIGKILL if slow. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    this.#proc = null;
    const signal = (sig: NodeJS.Signals) => {
      // proc may be su rather than the server: signal the postmaster itself (as root we may).
      const pid = this.#postmasterPid() ?? proc.pid;
      try {
        process.kill(pid, sig);
      } catch {}
    };
    const exited = (ms: number) =>
      Promise.race([proc.exited.then(() => true), Bun.sleep(ms).then(() => false)]);
    if (proc.exitCode !== null) return;
    signal("SIGINT");
    if (await exited(30_000)) return;
    signal("SIGQUIT");
    if (await exited(5_000)) return;
    proc.kill("SIGKILL");
    signal("SIGKILL");
    await proc.exited;
  }

  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name: ${name}`);
    const admin = new Bun.SQL({ url: this.urlOf("postgres"), max: 1 });
    try {
      await admin.unsafe(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.close();
    }
    return this.urlOf(name);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async kill(): Promise<void> {
    if (this.#gone) return;
    this.#gone = true;
    process.off("exit", this.#onExit);
    this.#janitor?.kill();
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  dispose(): Promise<void> {
    return this.kill();
  }

  /** When the process exits without dispose() (e.g. a server shared by a whole test run). */
  #killNow() {
    const pid = this.#postmasterPid();
    if (pid)
      try {
        process.kill(pid, "SIGQUIT");
      } catch {}
    // Synchronous here: give the dying server a moment (it unlinks postmaster.pid last) before rm.
    const until = Date.now() + 3_000;
    while (this.#postmasterPid() && Date.now() < until) Bun.sleepSync(10);
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {}
  }
}

/** Starts a fresh server with an empty database "weir". Call dispose() when done. */
export async function startPostgres(o: { tls?: boolean } = {}): Promise<PostgresServer> {
  const missing = postgresMissing();
  if (missing) throw new Error(missing);
  const server = new Server(binDir()!, o.tls);
  try {
    await server.init();
    await server.start();
    await server.createDatabase(USER);
  } catch (e) {
    await server.kill();
    throw e;
  }
  return server;
}
