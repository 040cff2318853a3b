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
    writeFileSync(file, text.replace("name: Old", "name: Edited"));
    const a = await env.cli(["deployment", "apply", "hello-deployment.yaml"], { cwd: dir });
    expect(a.code).toBe(0);
    expect(a.stdout).toContain("Deployment hello/legacy created");
    const d = await env.json(["deployment", "inspect", "hello/legacy"]);
    expect(d.parameters).toEqual({ name: "Edited" });
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

  test("storage blocks are refused with the alternative", async () => {
    const dir = join(env.root, "legacy");
    const r = await env.cli(
      ["deployment", "build", "flows/hello.ts:hello", "-n", "x", "-sb", "github/repo"],
      { cwd: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--storage-block is not supported");
  });
});
