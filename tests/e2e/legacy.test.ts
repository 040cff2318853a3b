// Prefect 2's workflow through the compiled binary: deployment build writes the file, a person edits
// the top part, deployment apply registers it, and it runs; `weir deploy` points such files to apply.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { Env, HELLO_FLOW } from "./harness.ts";

setDefaultTimeout(60_000);

let env: Env;
beforeAll(async () => {
  env = new Env();
  await env.startServer();
  await env.startAgent("local");
});
afterAll(() => env.dispose());

describe("deployment build / apply", () => {
  test("round trip: build, edit above the marker, apply, run", async () => {
    const dir = env.project("legacy", { "flows/hello.ts": HELLO_FLOW });
    // A Prefect 2 Process block: its settings become the runs' job variables.
    const block = { env: { GREETING: "from-the-block" }, stream_output: true, working_dir: null };
    expect((await env.cli(["block", "create", "process", "x", "--json", JSON.stringify(block)])).code).toBe(
      0,
    );
    const b = await env.cli(
      [
        "deployment",
        "build",
        "flows/hello.ts:hello",
        "-n",
        "legacy",
        "-p",
        "local",
        "-t",
        "nightly",
        "--param",
        "name=Old",
        "--interval",
        "3600",
        "-ib",
        "process/x",
        "-v",
        "7",
      ],
      { cwd: dir },
    );
    expect(b.code).toBe(0);
    const file = join(dir, "hello-deployment.yaml");
    const text = readFileSync(file, "utf8");
    expect(text).toContain("### DO NOT EDIT BELOW THIS LINE");
    const data = parse(text);
    expect(data).toMatchObject({
      name: "legacy",
      flow_name: "hello",
      work_pool_name: "local",
      tags: ["nightly"],
      version: "7",
      entrypoint: "flows/hello.ts:hello",
      path: dir,
    });
    expect(data.parameter_openapi_schema.required).toEqual(["name"]);
    expect(data.infrastructure).toMatchObject({
      type: "process",
      env: { GREETING: "from-the-block" },
      _block_type_slug: "process",
      _block_document_name: "x",
    });
    writeFileSync(file, text.replace("name: Old", "name: Edited"));
    const a = await env.cli(["deployment", "apply", "hello-deployment.yaml"], { cwd: dir });
    expect(a.code).toBe(0);
    expect(a.stdout).toContain("Deployment hello/legacy created");
    const d = await env.json(["deployment", "inspect", "hello/legacy"]);
    expect(d.parameters).toEqual({ name: "Edited" });
    expect(d.job_variables).toEqual({ env: { GREETING: "from-the-block" } });
    expect(d.schedules.map((s: { schedule: { interval: number } }) => s.schedule.interval)).toEqual([3600]);
    const run = await env.cli(["deployment", "run", "hello/legacy", "--watch"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("hello Edited");
  });

  test("weir deploy recognises a deployment file and points to apply", async () => {
    const dir = join(env.root, "legacy");
    const r = await env.cli(["deploy", "--all", "--file", "hello-deployment.yaml"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "this is a Prefect 2.x deployment file (written by `deployment build`), not a project file: apply it with: weir deployment apply hello-deployment.yaml",
    );
  });

  test("a storage block that does not exist, or of a type Weir cannot read, is named", async () => {
    const dir = join(env.root, "legacy");
    const missing = await env.cli(
      ["deployment", "build", "flows/hello.ts:hello", "-n", "x", "-sb", "s3/nope"],
      {
        cwd: dir,
      },
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      "Storage block s3/nope does not exist (create it with: weir block create s3 nope",
    );
    const bad = await env.cli(["deployment", "build", "flows/hello.ts:hello", "-n", "x", "-sb", "s3"], {
      cwd: dir,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--storage-block "s3" must be TYPE/NAME or TYPE/NAME/path');
  });

  test("a storage block's secret fields reach the runs' pull steps as placeholders, never the file", async () => {
    const dir = env.project("legacy-secret-storage", { "flows/hello.ts": HELLO_FLOW });
    const block = await env.cli(["block", "create", "github", "private-gh", "--json", "-"], {
      stdin: JSON.stringify({
        repository: "https://example.invalid/acme/flows.git",
        access_token: "ghp-legacy-9911",
      }),
    });
    expect(block.code).toBe(0);
    const b = await env.cli(
      [
        "deployment",
        "build",
        "flows/hello.ts:hello",
        "-n",
        "gh",
        "-p",
        "local",
        "-sb",
        "github/private-gh",
        "-a",
      ],
      { cwd: dir },
    );
    expect(b.code).toBe(0);
    expect(readFileSync(join(dir, "hello-deployment.yaml"), "utf8")).not.toContain("ghp-legacy-9911");
    const d = await env.json(["deployment", "inspect", "hello/gh"]);
    expect(d.pull_steps[0]["weir.steps.git_clone"].access_token).toBe(
      "{{ weir.blocks.github.private-gh.access_token }}",
    );
  });

  test("a Prefect 2 file whose code is in a GitHub storage block applies, cloning on every run", async () => {
    const dir = env.project("legacy-gh", {
      "knack-deployment.yaml": `name: HR Knack Banner
work_pool_name: local
parameters: {}
schedule: null
###
### DO NOT EDIT BELOW THIS LINE
###
flow_name: hello
storage:
  repository: https://github.com/cityofaustin/atd-prefect/
  reference: main
  access_token: null
  _block_document_name: atd-prefect-main-branch
  _is_anonymous: false
  _block_type_slug: github
path: ''
entrypoint: flows/hello.ts:hello
parameter_openapi_schema: null
`,
    });
    const r = await env.cli(["deployment", "apply", "knack-deployment.yaml"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("runs pull the code from storage block github/atd-prefect-main-branch");
    const d = await env.json(["deployment", "inspect", "hello/HR Knack Banner"]);
    expect(d.pull_steps).toEqual([
      {
        "weir.steps.git_clone": {
          id: "storage",
          repository: "https://github.com/cityofaustin/atd-prefect/",
          branch: "main",
        },
      },
    ]);
  });
});
