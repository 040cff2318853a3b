// Steps through the compiled binary: a package step installed by the binary from a tarball the test
// builds (no npm needed), reused after; air-gapped WEIR_PLUGINS_DIR; a local step module; three
// deployments sharing anchors; secret blocks in steps, masked.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Env, HELLO_FLOW } from "./harness.ts";

setDefaultTimeout(90_000);

let env: Env;
let tarball: string;

beforeAll(async () => {
  env = new Env();
  const pkg = join(env.root, "pkg", "package");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, "package.json"),
    JSON.stringify({
      name: "weir-steps-hello",
      version: "1.0.0",
      type: "module",
      exports: { "./steps": "./steps.js" },
    }),
  );
  writeFileSync(
    join(pkg, "steps.js"),
    "export async function post(k) { return { said: `hello ${k.to}` }; }\n",
  );
  tarball = join(env.root, "pkg", "weir-steps-hello-1.0.0.tgz");
  const tar = Bun.spawnSync(["tar", "czf", tarball, "package"], { cwd: join(env.root, "pkg") });
  expect(tar.exitCode).toBe(0);
  await env.startServer();
  await env.cli(["work-pool", "create", "local"]);
});
afterAll(() => env.dispose());

const yaml = (tgz: string) => `definitions:
  pool: &pool
    name: local
  base: &base
    entrypoint: flows/hello.ts:hello
    work_pool: *pool
    tags: [shared]
build:
  - weir-steps-hello/steps:post:
      id: greet
      requires: ${tgz}
      to: builders
  - ./steps/stamp.ts:main:
      id: stamp
      secret: "{{ weir.blocks.secret.stamp-key }}"
deployments:
  - <<: *base
    name: one
    description: "{{ greet.said }}"
  - <<: *base
    name: two
    version: "{{ stamp.version }}"
  - <<: *base
    name: three
    parameters: { name: "{{ greet.said }}" }
  - <<: *base
    name: typos
    parameters: { name: "{{ gret.said }}", other: "{{ prefect.variable.x }}" }
`;

describe("steps", () => {
  test("a step that fails is placed at the step: the file's own list, or the deployment's", async () => {
    const dir = env.project("failing-steps", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `build:
  - weir.steps.run_shell_script:
      script: "false"
deployments:
  - name: top
    entrypoint: flows/hello.ts:hello
    work_pool: { name: local }
  - name: own
    entrypoint: flows/hello.ts:hello
    work_pool: { name: local }
    build:
      - weir.steps.run_shell_script: { script: "true", stream_output: "{{ nope.flag }}" }
      - weir.steps.run_shell_script: { script: "false" }
`,
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'weir.yaml:2:5: deployment "top": step 1 "weir.steps.run_shell_script" failed: command `false` exited with code 1',
    );
    expect(r.stdout).toContain(
      'weir.yaml:13:9: deployment "own": step 2 "weir.steps.run_shell_script" failed: command `false` exited with code 1',
    );
    expect(r.stdout).toContain("0 deployed, 2 failed");
    // A placeholder naming no earlier step's output is a warning placed at its step.
    expect(r.stdout + r.stderr).toContain(
      'weir.yaml:12:9: step 1 "weir.steps.run_shell_script": {{ nope.flag }} names no output of an earlier step',
    );
  });

  test("a package step installed by the binary, a local module, three deployments sharing anchors", async () => {
    expect(
      (await env.cli(["block", "create", "secret", "stamp-key", "--field", "value=pssst-0042"])).code,
    ).toBe(0);
    const dir = env.project("steps", {
      "flows/hello.ts": HELLO_FLOW,
      "steps/stamp.ts":
        "export const main = async (k: { secret: string }) => { console.log(`using ${k.secret}`); return { version: `v-${k.secret.length}` }; };\n",
      "weir.yaml": yaml(tarball),
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("4 deployed, 0 failed");
    // Placeholders that name no output are left out, and the deploy says so with the near name.
    expect(r.stdout).toContain(
      "weir.yaml:28:25: {{ gret.said }} names no output of a build or push step (there are: greet, stamp); it is left out (did you mean {{ greet.said }}?)",
    );
    expect(r.stdout).toContain("(did you mean {{ prefect.variables.x }}?)");
    // the local step printed the secret it was given: scrubbed
    expect(r.stdout).toContain("using ***");
    expect(r.stdout).not.toContain("pssst-0042");
    expect(existsSync(join(env.home, "plugins", "node_modules", "weir-steps-hello", "package.json"))).toBe(
      true,
    );
    const one = await env.json(["deployment", "inspect", "hello/one"]);
    const two = await env.json(["deployment", "inspect", "hello/two"]);
    const three = await env.json(["deployment", "inspect", "hello/three"]);
    expect(one.description).toBe("hello builders");
    expect(two.version).toBe("v-10");
    expect(three.parameters).toEqual({ name: "hello builders" });
    for (const d of [one, two, three]) {
      expect(d.tags).toEqual(["shared"]);
      expect(d.work_pool_name).toBe("local");
    }
    const blocks = await env.cli(["block", "ls", "--json"]);
    expect(blocks.stdout).not.toContain("pssst-0042");
  });

  test("a secret never lands in a stored field: schedule parameters keep the placeholder, other fields are refused at their place", async () => {
    expect(
      (await env.cli(["block", "create", "secret", "db-pass", "--field", "value=SUPERSECRET_ABC123"])).code,
    ).toBe(0);
    const dir = env.project("secret-fields", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `build:
  - weir.steps.run_shell_script:
      id: sec
      script: printenv TOK
      env: { TOK: "{{ weir.blocks.secret.db-pass }}" }
deployments:
  - name: scheduled
    entrypoint: flows/hello.ts:hello
    build: []
    work_pool: { name: local }
    schedules:
      - cron: "0 9 * * *"
        parameters: { name: "{{ weir.blocks.secret.db-pass }}" }
  - name: described
    entrypoint: flows/hello.ts:hello
    build: []
    work_pool: { name: local }
    description: "{{ weir.blocks.secret.db-pass }}"
  - name: from-step
    entrypoint: flows/hello.ts:hello
    work_pool: { name: local }
    tags: ["{{ sec.stdout }}"]
`,
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("1 deployed, 2 failed");
    expect(r.stdout).toContain(
      'weir.yaml:18:18: deployment "described": description would store a secret in clear',
    );
    expect(r.stdout).toContain(
      'weir.yaml:22:12: deployment "from-step": tags.0 would store a secret in clear',
    );
    expect(r.stdout + r.stderr).not.toContain("SUPERSECRET_ABC123");
    const d = await env.json(["deployment", "inspect", "hello/scheduled"]);
    expect(JSON.stringify(d)).not.toContain("SUPERSECRET_ABC123");
    expect(d.schedules[0].parameters).toEqual({ name: "{{ weir.blocks.secret.db-pass }}" });
  });

  test("the installed package is reused: a second deploy installs nothing", async () => {
    const marker = join(env.home, "plugins", "node_modules", "weir-steps-hello", "package.json");
    const before = statSync(marker).mtimeMs;
    await Bun.sleep(20);
    expect((await env.cli(["deploy", "--all"], { cwd: join(env.root, "steps") })).code).toBe(0);
    expect(statSync(marker).mtimeMs).toBe(before);
  });

  test("a step whose requires changes (a new version) is installed again, and the new one runs", async () => {
    const pkg = join(env.root, "pkg2", "package");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, "package.json"),
      JSON.stringify({
        name: "weir-steps-hello",
        version: "2.0.0",
        type: "module",
        exports: { "./steps": "./steps.js" },
      }),
    );
    writeFileSync(
      join(pkg, "steps.js"),
      "export async function post(k) { return { said: `v2 ${k.to}` }; }\n",
    );
    const v2 = join(env.root, "pkg2", "weir-steps-hello-2.0.0.tgz");
    expect(Bun.spawnSync(["tar", "czf", v2, "package"], { cwd: join(env.root, "pkg2") }).exitCode).toBe(0);
    const dir = env.project("steps-v2", {
      "flows/hello.ts": HELLO_FLOW,
      "steps/stamp.ts": "export const main = async () => ({ version: 'v' });\n",
      "weir.yaml": yaml(v2),
    });
    const r = await env.cli(["deploy", "-n", "one"], { cwd: dir });
    expect(r.stdout + r.stderr).toContain("hello/one");
    expect(r.code).toBe(0);
    const installed = JSON.parse(
      readFileSync(join(env.home, "plugins", "node_modules", "weir-steps-hello", "package.json"), "utf8"),
    );
    expect(installed.version).toBe("2.0.0");
    expect((await env.json(["deployment", "inspect", "hello/one"])).description).toBe("v2 builders");
  });

  test("air-gapped: with WEIR_PLUGINS_DIR the step comes from there and nothing is fetched", async () => {
    const offline = join(env.root, "offline");
    mkdirSync(offline, { recursive: true });
    const dir = join(env.root, "steps");
    const missing = await env.cli(["deploy", "-n", "one"], { cwd: dir, env: { WEIR_PLUGINS_DIR: offline } });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(`step package weir-steps-hello is not in WEIR_PLUGINS_DIR (${offline})`);
    // copy an installed tree there, as an air-gapped install would
    const cp = Bun.spawnSync(["cp", "-r", join(env.home, "plugins", "node_modules"), offline]);
    expect(cp.exitCode).toBe(0);
    const ok = await env.cli(["deploy", "-n", "one"], { cwd: dir, env: { WEIR_PLUGINS_DIR: offline } });
    expect(ok.code).toBe(0);
  });
});
