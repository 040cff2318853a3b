// Security through the compiled binary: a server on another address refuses to start open; with
// auth on, the first start writes an admin token (0600); CI deploys with a deploy token, an agent
// with a pool-bound agent token runs the flow, and the flow gets a token of its own (not the
// agent's) that ends with the run; secret block values are not in the database file's bytes; the
// UI signs in with a token to an HttpOnly SameSite=Strict cookie; TLS end to end with a CA made here.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Env, errorLine, freePort, type Service } from "./harness.ts";

setDefaultTimeout(90_000);

const FLOW = `import { flow } from "weir";
export const probe = flow({ name: "probe" }, async (_p, { log }) => {
  const key = process.env.WEIR_API_KEY ?? "";
  const h = { authorization: "Bearer " + key, "content-type": "application/json" };
  const put = await fetch(process.env.WEIR_API_URL + "/variables/stolen", { method: "PUT", headers: h, body: '{"value":1}' });
  const list = await fetch(process.env.WEIR_API_URL + "/flow-runs", { headers: h });
  log.info(\`token=\${key.startsWith("weir_") ? "own" : "none"} same=\${key === process.env.AGENT_TOKEN} put=\${put.status} list=\${list.status}\`);
  await Bun.write(process.env.KEY_OUT!, key);
});
`;

let env: Env;
let project: string;
let admin: string;
let server: Service;
beforeAll(async () => {
  env = new Env();
  project = env.project("secure", {
    "flows/f.ts": FLOW,
    "weir.yaml":
      "deployments:\n  - { name: probe, entrypoint: flows/f.ts:probe, work_pool: { name: edge } }\n",
  });
});
afterAll(() => env.dispose());

describe("a server with auth", () => {
  test("on a non-loopback address it refuses to start without --auth, saying how", async () => {
    const r = await env.cli(["server", "--host", "0.0.0.0", "--port", "0"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--host 0.0.0.0 accepts connections from other machines");
    expect(r.stderr).toContain("add --auth");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test("open on another loopback address, it answers requests made to that address", async () => {
    const port = await freePort();
    const s = env.spawn(["server", "--host", "127.0.0.2", "--port", String(port)], {
      env: { WEIR_HOME: join(env.root, "loopback-2") },
    });
    try {
      await s.waitFor(/listening on http:\/\/127\.0\.0\.2:\d+/);
      const r = await fetch(`http://127.0.0.2:${port}/api/health`);
      expect(r.status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  test("the first start writes an admin token (mode 600) and says where", async () => {
    const s = await env.startServer(["--auth"]);
    server = s;
    const file = join(env.home, "admin-token");
    // printed after the "listening" line the start waits for
    await s.waitFor(/an admin token was written to .* \(mode 600\)/);
    expect(s.out).toContain(`an admin token was written to ${file} (mode 600)`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    admin = readFileSync(file, "utf8").trim();
    expect(admin).toMatch(/^weir_/);
    expect(s.out).not.toContain(admin);
  });

  test("without a token the CLI gets one clear line; with a read token writes are refused", async () => {
    const none = await env.cli(["deployment", "ls"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("This server needs an API token");
    expect(none.stderr).toContain("WEIR_API_KEY");
    const a = { WEIR_API_KEY: admin };
    const viewer = await env.cli(["token", "create", "viewer", "--scope", "read"], { env: a });
    expect(viewer.code).toBe(0);
    const read = { WEIR_API_KEY: viewer.stdout.trim() };
    expect((await env.cli(["deployment", "ls"], { env: read })).code).toBe(0);
    const w = await env.cli(["variable", "set", "x", "1"], { env: read });
    expect(w.code).toBe(1);
    expect(w.stderr).toContain("a read token may not PUT /api/variables/:name");
    // A deploy with it stops before any build step runs (it would fail only at the end).
    const dir = env.project("read-deploy", {
      "flows/f.ts": 'import { flow } from "weir";\nexport const f = flow({ name: "f" }, async () => {});\n',
      "weir.yaml":
        "build:\n  - weir.steps.run_shell_script: { script: touch BUILD_RAN }\ndeployments:\n  - { name: a, entrypoint: flows/f.ts:f }\n",
    });
    const d = await env.cli(["deploy", "--all"], { cwd: dir, env: read });
    expect(d.code).toBe(1);
    expect(errorLine(d).line).toBe(
      'weir: The API token in WEIR_API_KEY ("viewer", scope read) may not deploy: weir deploy needs a deploy or admin token (weir token create NAME --scope deploy); no step was run',
    );
    expect(existsSync(join(dir, "BUILD_RAN"))).toBe(false);
    const bad = await env.cli(["token", "create", "x", "--scope", "root"], { env: a });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--scope must be one of admin, deploy, agent, read");
  });

  test("CI deploys with a deploy token, an agent token runs the pool's flow, the flow has its own token", async () => {
    const a = { WEIR_API_KEY: admin };
    expect((await env.cli(["work-pool", "create", "edge"], { env: a })).code).toBe(0);
    expect((await env.cli(["work-pool", "create", "core"], { env: a })).code).toBe(0);
    const ci = (
      await env.cli(["token", "create", "ci", "--scope", "deploy", "--expires", "30d"], { env: a })
    ).stdout.trim();
    const agentToken = (
      await env.cli(["token", "create", "edge-1", "--scope", "agent", "--pool", "edge"], { env: a })
    ).stdout.trim();
    expect((await env.cli(["deploy", "--all"], { cwd: project, env: { WEIR_API_KEY: ci } })).code).toBe(0);
    // the agent token may not take another pool's runs
    const wrong = await env.cli(["agent", "--pool", "core"], {
      env: { WEIR_API_KEY: agentToken },
      timeoutMs: 20_000,
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr + wrong.stdout).toContain('this agent token is for work pool "edge", not "core"');
    const keyOut = join(env.root, "flow-key");
    env.spawn(["agent", "--pool", "edge"], {
      env: { WEIR_API_KEY: agentToken, AGENT_TOKEN: agentToken, KEY_OUT: keyOut },
    });
    const run = await env.cli(["deployment", "run", "probe/probe", "--watch"], { env: { WEIR_API_KEY: ci } });
    expect(run.stdout).toContain("Completed");
    expect(run.stdout).toContain("token=own same=false put=403 list=403");
    // the run's token ended with the run
    const own = readFileSync(keyOut, "utf8");
    const after = await fetch(`${env.apiUrl}/flow-runs`, { headers: { authorization: `Bearer ${own}` } });
    expect(after.status).toBe(401);
    const ls = await env.cli(["token", "ls"], { env: a });
    expect(ls.stdout).toMatch(/ci\s+deploy/);
    expect(ls.stdout).not.toContain(ci);
    // CI may also run a flow locally, tracked by the server
    const local = env.project("local-run", {
      "flows/l.ts":
        'import { flow } from "weir";\nexport const l = flow({ name: "local" }, async (_p, { log }) => log.info("ran locally"));\n',
    });
    const ran = await env.cli(["run", "flows/l.ts:l"], { cwd: local, env: { WEIR_API_KEY: ci } });
    expect(ran.stdout + ran.stderr).toContain("ran locally");
    expect(ran.code).toBe(0);
    const tracked = (await (
      await fetch(`${env.apiUrl}/flow-runs`, { headers: { authorization: `Bearer ${admin}` } })
    ).json()) as any[];
    expect(tracked.find((r) => r.flow_name === "local")?.state.type).toBe("COMPLETED");
    expect((await env.cli(["token", "revoke", "ci"], { env: a })).code).toBe(0);
    const revoked = await env.cli(["deployment", "ls"], { env: { WEIR_API_KEY: ci } });
    expect(revoked.stderr).toContain("not valid: unknown, revoked or expired");
  });

  test("an agent whose token is revoked while it runs stops and exits 1, saying why", async () => {
    const a = { WEIR_API_KEY: admin };
    const token = (
      await env.cli(["token", "create", "edge-revoked", "--scope", "agent", "--pool", "edge"], { env: a })
    ).stdout.trim();
    const agent = env.spawn(["agent", "--pool", "edge", "--name", "soon-revoked"], {
      env: { WEIR_API_KEY: token },
    });
    await agent.waitFor(/Agent soon-revoked started/);
    expect((await env.cli(["token", "revoke", "edge-revoked"], { env: a })).code).toBe(0);
    await agent.waitFor(/The server refuses this agent's token \(revoked or expired\): stopping/, 60_000);
    expect(await agent.proc.exited).toBe(1);
    expect(agent.out).toContain("The API token is not valid: unknown, revoked or expired");
  });

  test("secret block values are sealed: not in the database file, shown only to allowed callers", async () => {
    const a = { WEIR_API_KEY: admin };
    const value = "pa55-Very-Distinct-Secret-9731";
    // From stdin (value=-): the secret is on no command line, which ps and shell history show.
    expect(
      (
        await env.cli(["block", "create", "secret", "db-pass", "--field", "value=-"], {
          env: a,
          stdin: `${value}\n`,
        })
      ).code,
    ).toBe(0);
    const shown = await env.cli(["block", "inspect", "secret/db-pass", "--show-secrets"], { env: a });
    expect(shown.stdout).toContain(value);
    for (const f of readdirSync(env.home).filter((n) => n.startsWith("weir.db")))
      expect(readFileSync(join(env.home, f)).includes(Buffer.from(value))).toBe(false);
    const keyFile = join(env.home, "secret-key");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    // rotation is refused while a server uses the database (it would go on sealing with the old
    // key), and nothing changes
    const before = readFileSync(keyFile, "utf8");
    const refused = await env.cli(["secret-key", "rotate"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /1 Weir server\(s\) use .* now \(pid \d+ on .*, last seen .*\): stop them first, then rotate/,
    );
    expect(readFileSync(keyFile, "utf8")).toBe(before);
    // a database that is not there (a typo) is refused: rotating a new, empty one would retire
    // the key the real one needs
    await server.stop();
    const typo = await env.cli(["secret-key", "rotate", "--db", join(env.root, "no-such.db")]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("there is no database at");
    expect(readFileSync(keyFile, "utf8")).toBe(before);
    // with the server stopped: every secret moves to a new key; the old key is kept aside
    const rotated = await env.cli(["secret-key", "rotate"]);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/Sealed [1-9]\d* secret field\(s\)/);
    const after = readFileSync(keyFile, "utf8");
    expect(after).not.toBe(before);
    expect(after.split("\n").filter((l) => l && !l.startsWith("#")).length).toBe(1);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const retired = rotated.stdout.match(/the old key was moved to (\S+):/)![1]!;
    expect(readFileSync(retired, "utf8")).toBe(before);
    expect(statSync(retired).mode & 0o777).toBe(0o600);
    server = await env.startServer(["--auth"]);
    const again = await env.cli(["block", "inspect", "secret/db-pass", "--show-secrets"], { env: a });
    expect(again.stdout).toContain(value);
    // a server given another key refuses to start, and says which key the secrets need
    const other = new Env();
    try {
      other.database = env.database;
      const db = env.database ? [] : ["--db", join(env.home, "weir.db")];
      const r = await other.cli(["server", "--port", String(await freePort()), ...db], {
        env: { WEIR_SECRET_KEY: Buffer.alloc(32, 9).toString("base64") },
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        "This database holds secrets this server cannot open (block secret/db-pass:",
      );
      expect(r.stderr).toContain("which this server does not have");
      expect(r.stderr).not.toContain(value);
    } finally {
      await other.dispose();
    }
  });

  test("the UI asks for a token once and keeps a strict, HttpOnly session cookie", async () => {
    const base = env.apiUrl.replace(/\/api$/, "");
    const home = await fetch(`${base}/`, { redirect: "manual" });
    expect(home.status).toBe(303);
    expect(home.headers.get("location")).toBe("/login");
    const form = await fetch(`${base}/login`);
    const csrfCookie = form.headers.get("set-cookie")!.split(";")[0]!;
    const csrf = (await form.text()).match(/name="csrf" value="([^"]+)"/)![1]!;
    const bad = await fetch(`${base}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: csrfCookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf: "wrong", token: admin }),
    });
    expect(bad.headers.get("set-cookie") ?? "").not.toContain("weir_session");
    const ok = await fetch(`${base}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: csrfCookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, token: admin }),
    });
    expect(ok.status).toBe(303);
    const session = ok.headers.getSetCookie().find((c) => c.startsWith("weir_session="))!;
    expect(session).toContain("HttpOnly");
    expect(session).toContain("SameSite=Strict");
    const page = await fetch(`${base}/`, { headers: { cookie: session.split(";")[0]! } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<h1>Flow runs</h1>");
  });
});

describe("what a deployment may do on an agent", () => {
  const SECRET = "Param-Secret-Value-4412";
  test("a secret in a default parameter stays a placeholder everywhere but in the flow, and its value is scrubbed from logs", async () => {
    const a = { WEIR_API_KEY: admin };
    expect(
      (await env.cli(["block", "create", "secret", "api-key", "--field", `value=${SECRET}`], { env: a }))
        .code,
    ).toBe(0);
    const ENV_SECRET = "Env-Only-Secret-5521";
    expect(
      (await env.cli(["block", "create", "secret", "env-key", "--field", `value=${ENV_SECRET}`], { env: a }))
        .code,
    ).toBe(0);
    const dir = env.project("params", {
      "flows/p.ts": `import { flow, task } from "weir";
export const shows = flow({ name: "shows" }, async (p: { key: string }, { log }) => {
  log.info("got " + p.key + " len=" + p.key.length);
});
export const escapes = flow({ name: "escapes" }, async () => {});
const fails = task({ name: "fails" }, async (v: string) => {
  throw new Error("task saw " + v);
});
export const leaks = flow({ name: "leaks" }, async (p: { key: string; fail: boolean }, { log }) => {
  log.info("env " + process.env.LEAKY);
  console.log("console " + p.key);
  console.error({ inObject: p.key });
  process.stdout.write("stdout " + p.key + "\\n");
  process.stderr.write(new TextEncoder().encode("stderr bytes " + p.key + "\\n"));
  await fails(p.key).catch((e) => log.info("caught " + String(e)));
  if (p.fail) throw new Error("boom with " + p.key);
  return { token: p.key, quoted: \`"\${p.key}"\` };
});
`,
      "weir.yaml": `deployments:
  - name: shows
    entrypoint: flows/p.ts:shows
    parameters: { key: "{{ prefect.blocks.secret.api-key }}" }
    work_pool: { name: edge }
  - name: leaks
    entrypoint: flows/p.ts:leaks
    parameters: { key: "{{ prefect.blocks.secret.api-key }}", fail: false }
    work_pool: { name: edge, job_variables: { env: { LEAKY: "{{ prefect.blocks.secret.env-key }}" } } }
  - name: preload
    entrypoint: flows/p.ts:shows
    work_pool: { name: edge, job_variables: { env: { BUN_OPTIONS: "--preload /tmp/evil.ts" } } }
`,
    });
    const deployed = await env.cli(["deploy", "--all"], { cwd: dir, env: a });
    expect(deployed.code).not.toBe(0);
    expect(deployed.stdout + deployed.stderr).toContain("env.BUN_OPTIONS is not allowed");
    const inspect = await env.cli(["deployment", "inspect", "shows/shows", "--json"], { env: a });
    expect(inspect.stdout).toContain("{{ prefect.blocks.secret.api-key }}");
    expect(inspect.stdout).not.toContain(SECRET);
    const api = await fetch(`${env.apiUrl}/deployments/name/shows/shows`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(await api.text()).not.toContain(SECRET);
    const agentToken = (
      await env.cli(["token", "create", "edge-2", "--scope", "agent", "--pool", "edge"], { env: a })
    ).stdout.trim();
    const agent = env.spawn(["agent", "--pool", "edge"], {
      env: { WEIR_API_KEY: agentToken, KEY_OUT: join(env.root, "k2") },
    });
    const run = await env.cli(["deployment", "run", "shows/shows", "--watch"], { env: a });
    expect(run.stdout).toContain("Completed");
    expect(run.stdout).toContain(`len=${SECRET.length}`);
    expect(run.stdout).not.toContain(SECRET);
    const runs = await env.cli(["flow-run", "ls", "--json"], { env: a });
    expect(runs.stdout).not.toContain(SECRET);

    // Whatever else the flow does with it: its console and stdout/stderr (in the agent's output),
    // a task's error, its own failure (message and stack), its return value.
    for (const fail of [false, true]) {
      const r = await env.cli(["deployment", "run", "leaks/leaks", "--param", `fail=${fail}`, "--watch"], {
        env: a,
      });
      expect(r.stdout).toContain(fail ? "Failed" : "Completed");
      expect(r.stdout).toContain("caught Error: task saw ***");
      expect(r.stdout).toContain("env ***"); // a job variable the agent filled from the block
      const id = r.stdout.match(/\(([0-9a-f-]{36})\)/)![1]!;
      const inspect = await env.cli(["flow-run", "inspect", id, "--json"], { env: a });
      expect(inspect.stdout).toContain("task saw ***");
      if (fail) expect(inspect.stdout).toContain("boom with ***");
      else
        expect(JSON.parse((await env.cli(["flow-run", "result", id], { env: a })).stdout)).toEqual({
          token: "***",
          quoted: '"***"',
        });
      expect(r.stdout + r.stderr + inspect.stdout).not.toContain(SECRET);
      expect(r.stdout + r.stderr + inspect.stdout).not.toContain(ENV_SECRET);
    }
    // Either agent of the pool may have run it (one from an earlier test is still polling):
    // their outputs together.
    const agentsOut = () => env.services.map((x) => x.out).join("\n");
    for (let i = 0; i < 300 && !agentsOut().includes("stderr bytes ***"); i++) await Bun.sleep(50);
    expect(agent.proc.exitCode).toBeNull();
    for (const line of ["console ***", 'inObject: "***"', "stdout ***", "stderr bytes ***"])
      expect(agentsOut()).toContain(line);
    expect(agentsOut()).not.toContain(SECRET);
    expect(agentsOut()).not.toContain(ENV_SECRET);
    // Nor in the database in clear (the embedded one; the PostgreSQL run reads it through the API above).
    for (const f of ["weir.db", "weir.db-wal"])
      if (existsSync(join(env.home, f))) expect(readFileSync(join(env.home, f)).includes(SECRET)).toBe(false);
  });

  test("pull steps and working_dir stay in the folders the agent allows", async () => {
    const a = { WEIR_API_KEY: admin };
    const outside = mkdtempSync(join(tmpdir(), "weir-outside-"));
    try {
      writeFileSync(
        join(outside, "f.ts"),
        'import { flow } from "weir";\nexport const f = flow({ name: "outside" }, async () => {});\n',
      );
      const put = (name: string, extra: Record<string, unknown>) =>
        fetch(`${env.apiUrl}/deployments`, {
          method: "PUT",
          headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
          body: JSON.stringify({
            flow_name: "outside",
            name,
            entrypoint: "f.ts:f",
            work_pool_name: "edge",
            ...extra,
          }),
        });
      expect(
        (await put("cd", { pull_steps: [{ "weir.steps.set_working_directory": { directory: outside } }] }))
          .status,
      ).toBe(201);
      expect((await put("wd", { pull_steps: [], job_variables: { working_dir: outside } })).status).toBe(201);
      const cd = await env.cli(["deployment", "run", "outside/cd", "--watch"], { env: a });
      expect(cd.code).toBe(1);
      expect(cd.stdout).toContain(`${outside} is outside the folders this agent runs code from`);
      expect(cd.stdout).toContain(`--allow-dir ${outside}`);
      const wd = await env.cli(["deployment", "run", "outside/wd", "--watch"], { env: a });
      expect(wd.code).toBe(1);
      expect(wd.stdout).toContain(`working_dir ${outside} is outside the folders this agent runs code from`);
      // A local module step is code too: one outside the allowed folders is not run.
      const marker = join(outside, "step-ran");
      writeFileSync(
        join(outside, "step.ts"),
        `export function main() { require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran"); return {}; }\n`,
      );
      expect((await put("mod", { pull_steps: [{ [`${outside}/step.ts:main`]: {} }] })).status).toBe(201);
      const mod = await env.cli(["deployment", "run", "outside/mod", "--watch"], { env: a });
      expect(mod.code).toBe(1);
      expect(mod.stdout).toContain(
        `step module ${outside}/step.ts (${outside}/step.ts) is outside the folders this agent runs code from`,
      );
      expect(existsSync(marker)).toBe(false);
      // Nor through a link inside an allowed folder (the agent's, env.root) that points out of it.
      const link = join(env.root, "linked-step.ts");
      symlinkSync(join(outside, "step.ts"), link);
      expect((await put("linked", { pull_steps: [{ [`${link}:main`]: {} }] })).status).toBe(201);
      const linked = await env.cli(["deployment", "run", "outside/linked", "--watch"], { env: a });
      expect(linked.code).toBe(1);
      expect(linked.stdout).toContain(
        `a link to ${realpathSync(join(outside, "step.ts"))}, is outside the folders`,
      );
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test("an entrypoint that leaves the run's folder is refused", async () => {
    const a = { WEIR_API_KEY: admin };
    const res = await fetch(`${env.apiUrl}/deployments`, {
      method: "PUT",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({
        flow_name: "escapes",
        name: "up",
        entrypoint: "../../outside.ts:f",
        work_pool_name: "edge",
        pull_steps: [{ "weir.steps.set_working_directory": { directory: project } }],
      }),
    });
    expect(res.status).toBe(201);
    const run = await env.cli(["deployment", "run", "escapes/up", "--watch"], { env: a });
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toContain("points outside the run's working directory");
    // A link inside the folder that points out of it is judged where it points.
    const outside = mkdtempSync(join(tmpdir(), "weir-outside-flow-"));
    try {
      writeFileSync(
        join(outside, "f.ts"),
        'import { flow } from "weir";\nexport const f = flow({ name: "escapes" }, async () => {});\n',
      );
      symlinkSync(join(outside, "f.ts"), join(project, "linked.ts"));
      const linked = await fetch(`${env.apiUrl}/deployments`, {
        method: "PUT",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({
          flow_name: "escapes",
          name: "linked",
          entrypoint: "linked.ts:f",
          work_pool_name: "edge",
          pull_steps: [{ "weir.steps.set_working_directory": { directory: project } }],
        }),
      });
      expect(linked.status).toBe(201);
      const r = await env.cli(["deployment", "run", "escapes/linked", "--watch"], { env: a });
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain(
        `is a link to ${realpathSync(join(outside, "f.ts"))}, outside the run's working directory`,
      );
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("TLS", () => {
  test("a server with --tls-cert/--tls-key is reached with WEIR_CA_FILE, and refused without it", async () => {
    const dir = join(env.root, "tls");
    const sh = (args: string[]) => {
      const r = Bun.spawnSync(args, { cwd: dir, stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`${args.join(" ")}: ${r.stderr.toString()}`);
    };
    Bun.spawnSync(["mkdir", "-p", dir]);
    sh([
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=Weir Test CA",
    ]);
    sh([
      "openssl",
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=127.0.0.1",
    ]);
    await Bun.write(join(dir, "ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    sh([
      "openssl",
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "2",
      "-extfile",
      "ext",
    ]);
    const tls = new Env();
    try {
      tls.port = await freePort();
      tls.database = env.database;
      // The same database: the same key (a server that cannot open its secrets does not start).
      mkdirSync(tls.home, { recursive: true });
      copyFileSync(join(env.home, "secret-key"), join(tls.home, "secret-key"));
      const s = tls.spawn([
        "server",
        "--port",
        String(tls.port),
        "--tls-cert",
        join(dir, "server.pem"),
        "--tls-key",
        join(dir, "server.key"),
      ]);
      await s.waitFor(/listening on https:\/\/127\.0\.0\.1:\d+/);
      const url = `https://127.0.0.1:${tls.port}/api`;
      const untrusted = await tls.cli(["work-pool", "ls"], { env: { WEIR_API_URL: url } });
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toContain("TLS certificate this client does not trust");
      expect(untrusted.stderr).toContain("WEIR_CA_FILE");
      const trusted = await tls.cli(["work-pool", "ls"], {
        env: { WEIR_API_URL: url, WEIR_CA_FILE: join(dir, "ca.pem") },
      });
      expect(trusted.code).toBe(0);
      // Plain http to a TLS server: the hint says to use https.
      const plain = await tls.cli(["work-pool", "ls"], {
        env: { WEIR_API_URL: `http://127.0.0.1:${tls.port}/api`, WEIR_CA_FILE: join(dir, "ca.pem") },
      });
      expect(plain.code).toBe(1);
      expect(plain.stderr).toContain("use https:// in WEIR_API_URL");
      // A CA file that is missing or holds no certificate is said as such, not as a server away.
      writeFileSync(join(dir, "garbage.pem"), "not a certificate\n");
      for (const [file, said] of [
        [join(dir, "missing.pem"), "cannot be read (ENOENT)"],
        [join(dir, "garbage.pem"), "holds no PEM certificate"],
      ] as const) {
        const r = await tls.cli(["work-pool", "ls"], { env: { WEIR_API_URL: url, WEIR_CA_FILE: file } });
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`WEIR_CA_FILE ${file} ${said}`);
        expect(r.stderr).not.toContain("Cannot reach");
      }
      const badPem = await tls.cli([
        "server",
        "--port",
        "0",
        "--tls-cert",
        join(dir, "ext"),
        "--tls-key",
        join(dir, "server.key"),
      ]);
      expect(badPem.stderr).toContain("is not a PEM file");
    } finally {
      await tls.dispose();
    }
  });
});
