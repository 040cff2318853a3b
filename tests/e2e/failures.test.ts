// What goes wrong, driven through the compiled binary: failing and crashing flows, bad
// parameters and bad input. Each problem must give one clear line and a non-zero exit.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { alive, Env, errorLine, HELLO_FLOW } from "./harness.ts";

setDefaultTimeout(60_000);

const FLOWS = `import { flow, log } from "weir";

export const boom = flow({ name: "boom" }, async () => {
  log.info("about to fail");
  throw new Error("the database is on fire");
});

export const sleepy = flow({ name: "sleepy" }, async () => {
  log.info(\`pid=\${process.pid}\`);
  await Bun.sleep(60_000);
});

export const patient = flow({ name: "patient", retries: 1, retryDelaySeconds: 600 }, async () => {
  log.info(\`pid=\${process.pid}\`);
  throw new Error("not yet");
});

export const notAFlow = 42;
`;

const YAML = `deployments:
  - name: boom
    entrypoint: flows/more.ts:boom
    work_pool: { name: local }
  - name: sleepy
    entrypoint: flows/more.ts:sleepy
    work_pool: { name: local }
  - name: patient
    entrypoint: flows/more.ts:patient
    work_pool: { name: local }
  - name: daily
    entrypoint: flows/hello.ts:hello
    parameters: { name: World }
    work_pool: { name: local }
`;

let env: Env;
let project: string;

beforeAll(async () => {
  env = new Env();
  project = env.project("proj", { "flows/more.ts": FLOWS, "flows/hello.ts": HELLO_FLOW, "weir.yaml": YAML });
  await env.startServer();
  await env.startAgent("local");
  const r = await env.cli(["deploy", "--all"], { cwd: project });
  expect(r.code).toBe(0);
});
afterAll(() => env.dispose());

const runIdOf = (out: string) => out.match(/Created flow run \S+ \(([0-9a-f-]{36})\)/)?.[1] ?? "";

describe("failing and crashing flows", () => {
  test("a failing flow ends FAILED and --watch exits 1 with the error", async () => {
    const r = await env.cli(["deployment", "run", "boom/boom", "--watch"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("→ Failed");
    expect(r.stdout).toContain("the database is on fire");
    const run = await env.json(["flow-run", "inspect", runIdOf(r.stdout)]);
    expect(run.state.type).toBe("FAILED");
    expect(run.state.message).toBe("the database is on fire");
  });

  test("a flow process killed with SIGKILL mid-run ends CRASHED", async () => {
    const r = await env.cli(["deployment", "run", "sleepy/sleepy"]);
    const id = runIdOf(r.stdout);
    const pid = await env.loggedPid(id);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    const run = await env.waitForRun(id, (x) => x.state.type !== "RUNNING");
    expect(run.state.type).toBe("CRASHED");
    expect(run.state.message).toContain("killed by SIGKILL");
  });

  test("a cancelled run's process is stopped and the run ends CANCELLED", async () => {
    const r = await env.cli(["deployment", "run", "sleepy/sleepy"]);
    const id = runIdOf(r.stdout);
    await env.waitForRun(id, (x) => x.state.type === "RUNNING");
    const c = await env.cli(["flow-run", "cancel", id]);
    expect(c.stdout).toContain("Cancelling");
    const run = await env.waitForRun(id, (x) => x.state.type === "CANCELLED", 20_000);
    expect(run.state.type).toBe("CANCELLED");
  });
  test("a run cancelled while it waits to retry ends CANCELLED at once, and its process is gone", async () => {
    const r = await env.cli(["deployment", "run", "patient/patient"]);
    const id = runIdOf(r.stdout);
    const waiting = await env.waitForRun(id, (x) => x.state.name === "AwaitingRetry");
    expect(waiting.state.type).toBe("SCHEDULED");
    const pid = await env.loggedPid(id);
    expect(alive(pid)).toBe(true);
    const c = await env.cli(["flow-run", "cancel", id]);
    expect(c.code).toBe(0);
    expect(c.stdout).toContain("Cancelling");
    // Well before the 600 s delay: the process stops waiting when told.
    const run = await env.waitForRun(id, (x) => x.state.type === "CANCELLED", 30_000);
    expect(run.state.type).toBe("CANCELLED");
    for (let i = 0; i < 100 && alive(pid); i++) await Bun.sleep(100);
    expect(alive(pid)).toBe(false);
  });
});

describe("agent shutdown", () => {
  test("a second Ctrl-C kills the running flows, which end CRASHED, and the agent exits", async () => {
    await env.cli(["work-pool", "create", "solo"]);
    const agent = await env.startAgent("solo");
    // a pool of its own, so only this agent can take the run
    const r = await env.cli(["deploy", "-n", "sleepy", "--pool", "solo"], { cwd: project });
    expect(r.code).toBe(0);
    const run = await env.cli(["deployment", "run", "sleepy/sleepy"]);
    const runId = runIdOf(run.stdout);
    await env.waitForRun(runId, (x) => x.state.type === "RUNNING");
    // The agent has it (see durability.test.ts, "Ctrl-C stops taking work").
    await agent.waitFor(new RegExp(`Started flow run \\S+ \\(${runId}\\)`));
    agent.proc.kill("SIGINT");
    await agent.waitFor(/waiting for 1 running flow run/);
    agent.proc.kill("SIGINT");
    expect(await agent.proc.exited).toBe(0);
    const final = await env.waitForRun(runId, (x) => x.state.type !== "RUNNING");
    expect(final.state.type).toBe("CRASHED");
    expect(final.state.message).toContain("SIGKILL");
  });
});

describe("help", () => {
  test("weir help GROUP lists the group's commands, as weir GROUP --help does", async () => {
    const help = await env.cli(["help", "deployment"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe((await env.cli(["deployment", "--help"])).stdout);
    expect(help.stdout).toMatch(/^ {2}inspect /m);
  });
});

describe("WEIR_API_URL", () => {
  test("a password in it is never shown", async () => {
    const r = await env.cli(["deployment", "ls"], {
      env: { WEIR_API_URL: "http://ops:pa55word@127.0.0.1:9/api" },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Cannot reach the Weir API at http://127.0.0.1:9/api (connection refused)");
    expect(r.stderr + r.stdout).not.toContain("pa55word");
  });

  test("a server's bare address means its API", async () => {
    for (const url of [`http://127.0.0.1:${env.port}`, `http://127.0.0.1:${env.port}/`]) {
      const r = await env.cli(["deployment", "ls", "--json"], { env: { WEIR_API_URL: url } });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { name: string }[]).map((d) => d.name)).toContain("daily");
    }
  });
});

describe("flags checked before anything is asked of the server (exit 2)", () => {
  test("an unknown --state, and --prewarm with --isolation none", async () => {
    const state = await env.cli(["flow-run", "ls", "--state", "failed,Crashd"]);
    expect([state.code, errorLine(state).line]).toEqual([
      2,
      'weir: --state "Crashd" is not a state type or named state (did you mean CRASHED?); use SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, CRASHED, PAUSED, CANCELLING, LATE, AWAITINGRETRY, RETRYING',
    ]);
    expect((await env.cli(["flow-run", "ls", "--state", "failed,crashed"])).code).toBe(0);
    const none = await env.cli(["flow-run", "ls", "--state", "late,AwaitingRetry"]);
    expect([none.code, none.stdout.trim()]).toEqual([0, "No flow runs match these filters"]);
    const noDir = await env.cli(["agent", "--pool", "local", "--allow-dir", "/nonexistent-dir"]);
    expect([noDir.code, errorLine(noDir).line]).toEqual([
      2,
      "weir: --allow-dir /nonexistent-dir: there is no folder /nonexistent-dir",
    ]);
    // An empty run (a script's unset variable) names no run: it used to match every run.
    for (const verb of ["cancel", "retry", "inspect"]) {
      const r = await env.cli(["flow-run", verb, ""]);
      expect([r.code, errorLine(r).line]).toEqual([
        2,
        "weir: The flow run must be named: give its id or name (list runs with: weir flow-run ls)",
      ]);
    }
    // A key path naming an object's machinery is refused, not set on every object of the process.
    const proto = await env.cli(["deployment", "run", "hello/daily", "--job-variable", "__proto__.x=1"]);
    expect([proto.code, errorLine(proto).line]).toEqual([
      2,
      'weir: --job-variable "__proto__.x=1": "__proto__" cannot be a key (KEY.SUB=VALUE names keys of the value)',
    ]);
    // Paths and values that are not as they should be: one line naming them, not "unexpected error".
    const nowhere = await env.cli(["db", "export", "-o", "/nonexistent-dir/x.jsonl"]);
    expect([nowhere.code, errorLine(nowhere).line]).toEqual([
      1,
      "weir: cannot use /nonexistent-dir/x.jsonl: there is no such file or folder (or its folder does not exist)",
    ]);
    const notObject = await env.cli(["block", "create", "secret", "x", "--json", "null"]);
    expect([notObject.code, errorLine(notObject).line]).toEqual([
      2,
      'weir: --json must be a JSON object of the fields, such as {"value": "..."}',
    ]);
    const far = await env.cli(["deployment", "run", "hello/daily", "--start-in", "1e20"]);
    expect(far.code).toBe(2);
    expect(errorLine(far).line).toContain("--start-in must be a number of seconds from 0 to 31622400");
    const empty = await env.cli(["variable", "set", "", "1"]);
    expect([empty.code, errorLine(empty).line]).toEqual([
      2,
      "weir: A variable's name must not be empty (weir variable set NAME VALUE)",
    ]);
    const prewarm = await env.cli(["agent", "--pool", "local", "--isolation", "none", "--prewarm", "3"]);
    expect(prewarm.code).toBe(2);
    expect(prewarm.stderr).toContain("--prewarm has no effect with --isolation none");
  });
});

describe("bad parameters", () => {
  test("a wrong type is refused naming the parameter and type, and no run is created", async () => {
    const before = (await env.json(["flow-run", "ls", "--limit", "100"])).length;
    const r = await env.cli(["deployment", "run", "hello/daily", "--param", "times=abc"]);
    expect(r.code).toBe(1);
    expect(errorLine(r).line).toBe(
      'weir: Invalid parameters for hello/daily: parameter "times" must be number (got string "abc")',
    );
    const unknown = await env.cli(["deployment", "run", "hello/daily", "--param", "nme=Ada"]);
    expect(unknown.stderr).toContain('unknown parameter "nme" (did you mean "name"?) (known: name, times)');
    expect((await env.json(["flow-run", "ls", "--limit", "100"])).length).toBe(before);
  });

  test("malformed --param and --params are usage errors (exit 2)", async () => {
    const r = await env.cli(["deployment", "run", "hello/daily", "--param", "oops"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--param "oops" must look like NAME=VALUE');
    expect((await env.cli(["deployment", "run", "hello/daily", "--params", "{bad"])).code).toBe(2);
  });
});

describe("bad input gets one clear line, never a stack trace", () => {
  const cases: [string, () => Promise<import("./harness.ts").CliResult>, RegExp][] = [];
  const add = (name: string, run: () => Promise<import("./harness.ts").CliResult>, expected: RegExp) =>
    cases.push([name, run, expected]);

  add(
    "missing weir.yaml",
    () => env.cli(["deploy", "--all"], { cwd: env.root }),
    /No weir\.yaml \(or prefect\.yaml\) in .* pass --file PATH/,
  );
  add(
    "YAML syntax error",
    () =>
      env.cli(["deploy", "--all"], {
        cwd: env.project("yaml-bad", { "weir.yaml": "deployments:\n  - name: a\n    entrypoint: [oops\n" }),
      }),
    /^weir: weir\.yaml:\d+:\d+: YAML syntax error/,
  );
  add(
    "entrypoint file that does not exist",
    () =>
      env.cli(["deploy", "--all"], {
        cwd: env.project("no-file", {
          "weir.yaml": "deployments:\n  - name: a\n    entrypoint: flows/missing.ts:x\n",
        }),
      }),
    /weir\.yaml:3:17: deployment "a": .*flows\/missing\.ts does not exist/,
  );
  add(
    "a work pool that does not exist, at its place in the file",
    () =>
      env.cli(["deploy", "--all"], {
        cwd: env.project("no-pool", {
          "weir.yaml":
            "deployments:\n  - name: a\n    entrypoint: flows/f.ts:f\n    work_pool: { name: nosuchpool }\n",
          "flows/f.ts":
            'import { flow } from "weir";\nexport const f = flow({ name: "f" }, async () => {});\n',
        }),
      }),
    /weir\.yaml:4:24: deployment "a": work pool "nosuchpool" does not exist \(create it with: weir work-pool create nosuchpool --type process\)/,
  );
  add(
    "a value the server refuses, at its place in the file",
    () =>
      env.cli(["deploy", "--all"], {
        cwd: env.project("empty-tag", {
          "weir.yaml":
            'deployments:\n  - name: a\n    entrypoint: flows/f.ts:f\n    tags: ["ok", "{{ $WEIR_TEST_UNSET }}"]\n',
          "flows/f.ts":
            'import { flow } from "weir";\nexport const f = flow({ name: "f" }, async () => {});\n',
        }),
      }),
    /weir\.yaml:4:18: deployment "a": Invalid request body: tags\.1: must not be empty/,
  );
  add(
    "entrypoint outside the project folder",
    () =>
      env.cli(["deploy", "--all"], {
        cwd: env.project("climbs/inner", {
          "weir.yaml": "deployments:\n  - name: a\n    entrypoint: ../f.ts:f\n",
          "../f.ts": 'import { flow } from "weir";\nexport const f = flow({ name: "f" }, async () => {});\n',
        }),
      }),
    /weir\.yaml:3:17: deployment "a": entrypoint \.\.\/f\.ts:f is outside the project folder .*climbs\/inner; a run imports it/,
  );
  add(
    "a syntax error in a file the flow imports",
    () =>
      env.cli(["deploy", "--all"], {
        cwd: env.project("syntax", {
          "weir.yaml": "deployments:\n  - name: a\n    entrypoint: flows/f.ts:f\n",
          "flows/f.ts":
            'import { flow } from "weir";\nimport { x } from "./helper.ts";\nexport const f = flow({ name: "f" }, async () => x);\n',
          "flows/helper.ts": "export const x = 1;\nexport const y = 2 +;\n",
        }),
      }),
    /weir\.yaml:3:17: deployment "a": Entrypoint "flows\/f\.ts:f" could not be loaded: flows\/helper\.ts:2:21: Unexpected ;/,
  );
  add(
    "entrypoint that does not export a flow",
    () =>
      env.cli(["deploy", "--all"], {
        cwd: env.project("not-flow", {
          "weir.yaml": "deployments:\n  - name: a\n    entrypoint: flows/more.ts:notAFlow\n",
          "flows/more.ts": FLOWS,
        }),
      }),
    /export "notAFlow" is not a flow/,
  );
  add(
    "unknown deployment name",
    () => env.cli(["deployment", "run", "hello/nope"]),
    /Deployment "hello\/nope" does not exist/,
  );
  add(
    "unknown deployment in the file",
    () => env.cli(["deploy", "-n", "weekly"], { cwd: project }),
    /No deployment in weir\.yaml matches "weekly"/,
  );
  add(
    "unreachable API",
    () => env.cli(["deployment", "ls"], { env: { WEIR_API_URL: "http://127.0.0.1:9/api" } }),
    /Cannot reach the Weir API at http:\/\/127\.0\.0\.1:9\/api \(connection refused\): start a server with "weir server"/,
  );
  add(
    "WEIR_API_URL that is not a URL",
    () => env.cli(["flow-run", "ls"], { env: { WEIR_API_URL: "notaurl" } }),
    /^weir: WEIR_API_URL "notaurl" is not an http\(s\) address: give the server's API, e\.g\. http:\/\/127\.0\.0\.1:4200\/api/,
  );
  add(
    "agent with a WEIR_API_URL that is not a URL",
    () => env.cli(["agent", "--pool", "local"], { env: { WEIR_API_URL: "ftp://x/api" } }),
    /^weir: WEIR_API_URL "ftp:\/\/x\/api" is not an http\(s\) address/,
  );
  add(
    "unknown flag",
    () => env.cli(["deploy", "--bogus"]),
    /unknown option '--bogus' \(see: weir deploy --help\)/,
  );
  add(
    "bad option value: the help named is the command's, not the option's value",
    () => env.cli(["agent", "--pool", "crashpool", "--isolation", "thread"]),
    /argument 'thread' is invalid\. Allowed choices are process, none\. \(see: weir agent --help\)$/m,
  );
  add(
    "a port that is not a number",
    () => env.cli(["server", "--port", "abc"]),
    /--port must be a port number from 0 to 65535 \(got "abc"\)/,
  );
  add(
    "help for an unknown command",
    () => env.cli(["help", "deploymnt"]),
    /unknown command 'deploymnt' \(did you mean deployment\?\)/,
  );
  add(
    "flow-run logs with both --follow and --json",
    () => env.cli(["flow-run", "logs", "01a00000-0000-7000-8000-000000000000", "--follow", "--json"]),
    /--follow prints lines as they come and --json the log as it is now: give one of them/,
  );
  add("unknown command", () => env.cli(["nosuch"]), /unknown command 'nosuch' \(see: weir --help\)/);
  add(
    "unknown subcommand",
    () => env.cli(["deployment", "nosuch"]),
    /unknown command 'nosuch' \(see: weir deployment --help\)/,
  );

  test.each(cases.map((c) => [c[0], c] as const))("%s", async (_name, [, run, expected]) => {
    const r = await run();
    expect(r.code).not.toBe(0);
    const { line, stack } = errorLine(r);
    expect(stack).toBe(false);
    expect(r.stderr + r.stdout).toMatch(expected);
    expect(line.length + r.stdout.length).toBeGreaterThan(0);
  });
});
