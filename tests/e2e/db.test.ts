// weir db: migrating a PostgreSQL database, and moving an embedded database to PostgreSQL with
// export / import, after which a server on PostgreSQL has the deployments, runs, logs, blocks and
// variables, and runs the next flow. Through the compiled binary.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { Env, errorLine, HELLO_FLOW, HELLO_YAML } from "./harness.ts";
import { type PostgresServer, postgresOnlyMissing, startPostgres } from "./postgres.ts";

setDefaultTimeout(120_000);

const missing = postgresOnlyMissing("weir db tests");

let pg: PostgresServer;
let env: Env;
beforeAll(async () => {
  if (missing) return;
  pg = await startPostgres();
  env = new Env();
  env.database = null; // the embedded database first
});
afterAll(async () => {
  await env?.dispose();
  await pg?.dispose();
});

describe.skipIf(missing !== null)("weir db", () => {
  test("migrate applies the migrations once; a second time there is nothing to do", async () => {
    const url = await pg.createDatabase("fresh");
    const first = await env.cli(["db", "migrate", "--db", url]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /Applied \d+ migration\(s\) to postgres:\/\/\*\*\*@127\.0\.0\.1:\d+\/fresh: 0000_init/,
    );
    const again = await env.cli(["db", "migrate", "--db", url]);
    expect(again.stdout).toContain("is up to date");
  });

  test("a role that may not create tables is told what to grant, not 'unexpected error'", async () => {
    const url = await pg.createDatabase("rights");
    const admin = new SQL(url);
    await admin`CREATE ROLE limited LOGIN`;
    await admin.close();
    const r = await env.cli(["db", "migrate", "--db", url.replace("weir@", "limited@")]);
    expect(r.code).toBe(1);
    const line = errorLine(r);
    expect(line.stack).toBe(false);
    expect(line.line).toContain(
      "Could not bring the database's tables up to this version: permission denied",
    );
    expect(line.line).toContain("GRANT CREATE ON SCHEMA public TO role");
    expect(r.stderr).not.toContain("unexpected error");
  });

  test("an embedded database moves to PostgreSQL with export and import, and the server goes on there", async () => {
    const server = await env.startServer();
    await env.startAgent("local");
    const dir = env.project("moving", { "flows/hello.ts": HELLO_FLOW, "weir.yaml": HELLO_YAML });
    expect((await env.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
    const before = await env.cli(["deployment", "run", "hello/daily", "--param", "name=Before", "--watch"]);
    expect(before.code).toBe(0);
    expect(
      (await env.cli(["block", "create", "secret", "token", "--field", "value=s3cret-value"])).code,
    ).toBe(0);
    expect((await env.cli(["variable", "set", "region", "eu-west-1"])).code).toBe(0);
    const runsBefore = await env.json(["flow-run", "ls"]);
    for (const s of env.services) await s.stop();
    env.services.length = 0;

    const file = join(env.root, "export.jsonl");
    const exported = await env.cli(["db", "export", "--out", file]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/flowRuns 1, flowRunStates \d+, flowRunResults 1,/);
    expect(exported.stdout).toContain("Block secrets stay sealed with this installation's key");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // What an export refuses: a file that exists, the database itself, a database that is not there.
    for (const [args, said] of [
      [["--out", file], "exists: give a new file (or --force to replace an earlier export)"],
      [["--out", join(env.home, "weir.db"), "--force"], "is the database being exported"],
      [
        ["--out", join(env.root, "x.jsonl"), "--db", join(env.root, "nope", "weir.db")],
        "there is no database at",
      ],
    ] as const) {
      const r = await env.cli(["db", "export", ...args]);
      expect([r.code, errorLine(r).line.includes(said)]).toEqual([2, true]);
    }
    // A file cut short is refused with the database left empty.
    const lines = readFileSync(file, "utf8").split("\n");
    const cut = join(env.root, "cut.jsonl");
    writeFileSync(cut, `${lines.slice(0, 5).join("\n")}\n`);
    const cutUrl = await pg.createDatabase("cut");
    const refused = await env.cli(["db", "import", cut, "--db", cutUrl]);
    expect(refused.code).toBe(1);
    expect(errorLine(refused).line).toContain("ends before the export's last line: it was cut short");
    expect((await env.cli(["db", "import", file, "--db", cutUrl])).code).toBe(0); // it was left empty
    const url = await pg.createDatabase("moved");
    const imported = await env.cli(["db", "import", file, "--db", url]);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain("deployments 1");
    const twice = await env.cli(["db", "import", file, "--db", url]);
    expect(twice.code).toBe(1);
    expect(errorLine(twice).line).toContain("is not empty");

    // The same installation, now on PostgreSQL.
    env.database = url;
    expect(server.proc.exitCode).not.toBeNull();
    await env.startServer();
    await env.startAgent("local");
    expect((await env.json(["flow-run", "ls"])).map((r: { id: string }) => r.id)).toEqual(
      runsBefore.map((r: { id: string }) => r.id),
    );
    expect((await env.cli(["flow-run", "logs", runsBefore[0].id])).stdout).toContain("hello Before");
    expect(JSON.parse((await env.cli(["flow-run", "result", runsBefore[0].id])).stdout)).toEqual({
      ok: true,
    });
    expect((await env.cli(["variable", "get", "region"])).stdout).toContain("eu-west-1");
    const after = await env.cli(["deployment", "run", "hello/daily", "--param", "name=After", "--watch"]);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain("hello After");
  });
});

describe.skipIf(missing !== null)("TLS to PostgreSQL", () => {
  test("a server on a TLS-only database runs flows over encrypted connections; a URL without TLS is refused with the fix", async () => {
    const tls = await startPostgres({ tls: true });
    const tlsEnv = new Env();
    try {
      tlsEnv.database = tls.url; // ?sslmode=require
      const plain = tls.url.replace("?sslmode=require", "");
      const refused = await tlsEnv.cli(["server", "--port", "1"], { env: { WEIR_DATABASE_URL: plain } });
      expect(refused.code).toBe(1);
      const line = errorLine(refused);
      expect(line.stack).toBe(false);
      expect(line.line).toContain(`Cannot open the database at ${plain.replace("weir@", "***@")}`);
      expect(line.line).toContain("add ?sslmode=require to the URL");

      // The certificate checked against its CA (here the self-signed certificate itself).
      const verified = `${tls.url.replace("require", "verify-full")}&sslrootcert=${tls.certificate}`;
      expect((await tlsEnv.cli(["db", "migrate", "--db", verified])).stdout).toContain("Applied");
      const unverified = await tlsEnv.cli([
        "db",
        "migrate",
        "--db",
        tls.url.replace("require", "verify-full"),
      ]);
      expect(unverified.code).toBe(1);
      expect(errorLine(unverified).line).toContain("give its CA with sslrootcert=PATH");

      await tlsEnv.startServer();
      await tlsEnv.startAgent("local");
      const dir = tlsEnv.project("tls", { "flows/hello.ts": HELLO_FLOW, "weir.yaml": HELLO_YAML });
      expect((await tlsEnv.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
      const run = await tlsEnv.cli(["deployment", "run", "hello/daily", "--param", "name=TLS", "--watch"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("hello TLS");
      // Every connection the server holds to the database is encrypted.
      const sql = new Bun.SQL({ url: tls.url, max: 1 });
      try {
        const rows = (await sql`SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
          WHERE a.datname = 'weir' AND a.backend_type = 'client backend' AND s.pid <> pg_backend_pid()`) as {
          ssl: boolean;
        }[];
        expect(rows.length).toBeGreaterThan(0);
        expect(rows.every((r) => r.ssl)).toBe(true);
      } finally {
        await sql.close();
      }
    } finally {
      await tlsEnv.dispose();
      await tls.dispose();
    }
  });
});

describe("database addresses", () => {
  test("one Weir does not open is refused, not made a file named after it; passwords never shown", async () => {
    const local = new Env();
    try {
      const cases: [string, string][] = [
        [
          "postgress://weir:TypoPW1@127.0.0.1:5730/weir",
          'starts with "postgress://", which Weir does not open',
        ],
        [
          "host=127.0.0.1 port=5730 user=weir password=KvPW123 dbname=weir",
          "looks like a libpq key=value string",
        ],
        ["password=OnePW123", "looks like a libpq key=value string"],
        ["postgresql:/u:SlashPW1@h/db", 'has a scheme without "//"'],
        ["postgres:u:ColonPW1@h/db", 'has a scheme without "//"'],
        ["u:BarePW1@h/db", "looks like a PostgreSQL address without its scheme"],
        ["", "The database address is empty"],
        ["Postgres://weir:CasePW1@127.0.0.1:5730/weir", "write the scheme in lower case (postgres://)"],
        [" postgres://weir:SpacePW1@127.0.0.1:1/weir", "has spaces around it"],
        ["postgres://w2:Ab/Cd+Ef=Gh#IjPW?Kl@127.0.0.1:1/weir", "must be percent-encoded"],
        [
          "postgres://weir@127.0.0.1:1/weir?password=QueryPW1&sslmode=disable",
          "Cannot open the database at postgres://***@127.0.0.1:1/weir?password=***",
        ],
      ];
      for (const [address, said] of cases) {
        const r = await local.cli(["db", "migrate", "--db", address]);
        expect(r.code).toBe(1);
        const line = errorLine(r);
        expect(line.stack).toBe(false);
        expect(line.line).toContain(said);
        for (const secret of [
          "TypoPW1",
          "KvPW123",
          "SpacePW1",
          "Gh#IjPW",
          "QueryPW1",
          "OnePW123",
          "CasePW1",
          "SlashPW1",
          "ColonPW1",
          "BarePW1",
        ])
          expect(r.stdout + r.stderr).not.toContain(secret);
      }
      // Nothing was created in the folder it ran in.
      expect(readdirSync(local.root).filter((f) => /weir|postgres|host=|password=/i.test(f))).toEqual([]);
    } finally {
      local.dispose();
    }
  });
});
