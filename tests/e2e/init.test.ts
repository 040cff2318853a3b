// weir init through the compiled binary: recipes guessed or chosen, fields from flags, nothing
// asked without a terminal, nothing overwritten; the local recipe's file deploys once an
// entrypoint is set.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Env, HELLO_FLOW } from "./harness.ts";

setDefaultTimeout(60_000);

let env: Env;
beforeAll(async () => {
  env = new Env();
  await env.startServer();
  await env.cli(["work-pool", "create", "local"]);
});
afterAll(() => env.dispose());

describe("weir init", () => {
  test("guesses local in a plain folder; the file deploys once the entrypoint is set", async () => {
    const dir = env.project("plain", { "flows/hello.ts": HELLO_FLOW });
    const r = await env.cli(["init"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Wrote weir.yaml (recipe local, guessed) and .weirignore");
    const text = readFileSync(join(dir, "weir.yaml"), "utf8");
    expect(text).toContain(`directory: ${dir}`);
    expect(readFileSync(join(dir, ".weirignore"), "utf8")).toContain("node_modules/");
    const before = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(before.stdout).toContain(
      'deployment "default" has no entrypoint (add entrypoint: path/file.ts:flowName)',
    );
    writeFileSync(
      join(dir, "weir.yaml"),
      text
        .replace("entrypoint: null", "entrypoint: flows/hello.ts:hello")
        .replace("parameters: {}", "parameters: { name: Init }"),
    );
    expect((await env.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
  });

  test("guesses git from the origin remote", async () => {
    const dir = env.project("repo", { "README.md": "x" });
    Bun.spawnSync(["git", "init", "-q"], { cwd: dir });
    Bun.spawnSync(["git", "remote", "add", "origin", "https://example.com/acme/flows.git"], { cwd: dir });
    const r = await env.cli(["init"], { cwd: dir });
    expect(r.stdout).toContain("recipe git, guessed");
    expect(readFileSync(join(dir, "weir.yaml"), "utf8")).toContain(
      "repository: https://example.com/acme/flows.git",
    );
  });

  test("without a terminal a missing field is named with the flag that gives it; fields come from --field", async () => {
    const dir = env.project("docker", { Dockerfile: "FROM scratch\n" });
    const missing = await env.cli(["init", "--recipe", "docker"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Recipe docker needs image_name");
    expect(missing.stderr).toContain("pass --field image_name=...");
    const ok = await env.cli(["init", "--field", "image_name=acme/img"], { cwd: dir });
    expect(ok.stdout).toContain("recipe docker, guessed");
    expect(readFileSync(join(dir, "weir.yaml"), "utf8")).toContain("image_name: acme/img");
    const again = await env.cli(["init"], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists; weir init does not overwrite it");
    const bad = await env.cli(["init", "--recipe", "k8s"], { cwd: env.project("x", { a: "" }) });
    expect(bad.stderr).toContain(
      'Unknown recipe "k8s" (use one of: local, git, docker, docker-git, s3, docker-s3)',
    );
  });

  test("the docker recipe builds FROM the runtime image and runs in a docker pool", async () => {
    const dir = env.project("dockerproj", { "flows/hello.ts": HELLO_FLOW });
    const r = await env.cli(["init", "--recipe", "docker", "--field", "image_name=acme/img"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'Its deployment runs in work pool "docker"; create it once with: weir work-pool create docker --type docker',
    );
    expect(r.stdout).not.toContain("does not include");
    const text = readFileSync(join(dir, "weir.yaml"), "utf8");
    expect(text).toContain("weir.steps.build_docker_image");
    expect(text).toContain("dockerfile: auto");
    expect(text).toContain('image: "{{ build-image.image }}"');
    expect(text).toContain("directory: /opt/weir/dockerproj");
  });

  test("a step of a plugin this build lacks is named with the plugin, at deploy and in the dry run", async () => {
    const dir = env.project("gcsproj", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `push:
  - prefect_gcp.deployments.steps.push_to_gcs: { bucket: b, folder: f, requires: prefect-gcp }
deployments:
  - { name: gcs, entrypoint: flows/hello.ts:hello, work_pool: { name: local } }
`,
    });
    for (const args of [
      ["deploy", "--all"],
      ["deploy", "--all", "--dry-run"],
    ]) {
      const d = await env.cli(args, { cwd: dir });
      expect(d.code).toBe(1);
      expect(d.stdout).toMatch(
        /weir\.yaml:\d+:\d+: push step 1: step "prefect_gcp\.deployments\.steps\.push_to_gcs" needs Weir's gcs plugin, which this build does not include yet/,
      );
      expect(d.stdout).not.toContain("no such step");
    }
  });

  test("the s3 recipe writes steps this build has, with a credentials block", async () => {
    const dir = env.project("s3proj", { "flows/hello.ts": HELLO_FLOW });
    const r = await env.cli(["init", "--recipe", "s3", "--field", "bucket=flows"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("Note:");
    const text = readFileSync(join(dir, "weir.yaml"), "utf8");
    expect(text).toContain("weir.steps.push_to_s3:");
    expect(text).toContain("credentials: " + '"{{ weir.blocks.aws-credentials.default }}"');
  });
});
