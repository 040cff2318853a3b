import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { consoleLogger } from "../../core/sdk/logger.ts";
import { runSteps, splitCommand } from "../../core/steps/index.ts";
import { applyValues } from "../../core/templating/index.ts";
import { registry, tempDir } from "../helpers.ts";

const lines: string[] = [];
const log = {
  ...consoleLogger,
  info: (m: unknown) => lines.push(String(m)),
  warning: (m: unknown) => lines.push(`W ${m}`),
};
const ctx = (cwd: string, secrets: string[] = []) => ({
  registry,
  env: process.env,
  cwd,
  log,
  signal: new AbortController().signal,
  secrets,
  resolve: async (k: Record<string, unknown>, o: Record<string, unknown>) =>
    applyValues(k, o) as Record<string, unknown>,
});
const message = (p: Promise<unknown>) =>
  p.then(
    () => "no error",
    (e: Error) => e.message,
  );

describe("splitCommand()", () => {
  test("splits like a shell, without running one", () => {
    expect(splitCommand(`echo "hello world" 'a b' c\\ d ""`)).toEqual([
      "echo",
      "hello world",
      "a b",
      "c d",
      "",
    ]);
    expect(() => splitCommand(`echo "open`)).toThrow(/unclosed " quote/);
  });
});

describe("runSteps()", () => {
  test("run_shell_script runs each line without a shell; outputs go under the id and flat", async () => {
    using dir = tempDir();
    const out = await runSteps(
      [
        {
          "weir.steps.run_shell_script": {
            id: "greet",
            script: "echo hello\necho 'a  b'",
            stream_output: false,
          },
        },
        { "weir.steps.run_shell_script": { id: "first", script: "echo hello" } },
        {
          "prefect.deployments.steps.run_shell_script": {
            id: "again",
            script: "echo {{ first.stdout }} > x && y",
          },
        },
      ],
      ctx(dir.path),
    );
    expect(out.greet).toEqual({ stdout: "hello\na  b", stderr: "" });
    // `>` and `&&` are plain arguments without a shell
    expect((out.again as { stdout: string }).stdout).toBe("hello > x && y");
    expect(out.stdout).toBe("hello > x && y");
  });

  test("the first failing command stops the section, naming the step, its id and the cause", async () => {
    using dir = tempDir();
    const msg = await message(
      runSteps(
        [
          { "weir.steps.run_shell_script": { id: "bad", script: "false\necho never" } },
          { "weir.steps.run_shell_script": { script: "echo later" } },
        ],
        ctx(dir.path),
      ),
    );
    expect(msg).toBe(
      'step 1 "weir.steps.run_shell_script" (id bad) failed: command `false` exited with code 1',
    );
  });

  test("env and expand_env_vars", async () => {
    using dir = tempDir();
    const out = await runSteps(
      [
        {
          "weir.steps.run_shell_script": {
            script: "echo $GREETING ${GREETING}",
            env: { GREETING: "hi" },
            expand_env_vars: true,
          },
        },
      ],
      ctx(dir.path),
    );
    expect(out.stdout).toBe("hi hi");
  });

  test("a secret never goes into a command's arguments (ps shows them); in env it works", async () => {
    using dir = tempDir();
    const secret = "Sh-Secret-3141";
    const refused = await message(
      runSteps([{ "weir.steps.run_shell_script": { script: `echo ${secret}` } }], ctx(dir.path, [secret])),
    );
    expect(refused).toContain("would carry a secret in its arguments");
    expect(refused).toContain("`echo ***`");
    expect(refused).not.toContain(secret);
    // expanding $VAR into the line would put it back in the arguments: refused the same way
    const expanded = await message(
      runSteps(
        [{ "weir.steps.run_shell_script": { script: "echo $S", env: { S: secret }, expand_env_vars: true } }],
        ctx(dir.path, [secret]),
      ),
    );
    expect(expanded).toContain("would carry a secret in its arguments");
    const out = await runSteps(
      [{ "weir.steps.run_shell_script": { script: "printenv S", env: { S: secret }, stream_output: false } }],
      ctx(dir.path, [secret]),
    );
    expect(out.stdout).toBe(secret);
  });

  test("unknown kwargs are rejected with the ones the step takes", async () => {
    using dir = tempDir();
    expect(
      await message(runSteps([{ "weir.steps.run_shell_script": { scrpt: "x" } }], ctx(dir.path))),
    ).toContain(
      'run_shell_script: unknown argument "scrpt" (did you mean "script"?); run_shell_script takes: script, directory, env, stream_output, expand_env_vars; argument "script" is required',
    );
  });

  test("an unknown step is named, with the built-ins", async () => {
    using dir = tempDir();
    expect(await message(runSteps([{ "weir.steps.nope": {} }], ctx(dir.path)))).toContain(
      'step 1 "weir.steps.nope" failed: no such step',
    );
  });

  test("a local module step is imported and its output kept", async () => {
    using dir = tempDir();
    writeFileSync(
      join(dir.path, "notify.ts"),
      "export const main = async (k: { to: string }) => ({ sent: `to ${k.to}` });\n",
    );
    const cwd = process.cwd();
    process.chdir(dir.path);
    try {
      const out = await runSteps([{ "./notify.ts:main": { id: "n", to: "ops" } }], ctx(dir.path));
      expect(out.n).toEqual({ sent: "to ops" });
    } finally {
      process.chdir(cwd);
    }
  });

  test("secrets never appear in a failing step's message", async () => {
    using dir = tempDir();
    const msg = await message(
      runSteps(
        [{ "weir.steps.run_shell_script": { script: "ls /no/such/s3cr3t-token" } }],
        ctx(dir.path, ["s3cr3t-token"]),
      ),
    );
    expect(msg).not.toContain("s3cr3t-token");
    expect(msg).toContain("***");
  });
});

describe("install_dependencies", () => {
  test("installs a package.json's dependencies with the built-in package manager", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "dep"));
    writeFileSync(
      join(dir.path, "dep", "package.json"),
      JSON.stringify({ name: "local-dep", version: "1.0.0" }),
    );
    mkdirSync(join(dir.path, "app"));
    writeFileSync(
      join(dir.path, "app", "package.json"),
      JSON.stringify({ name: "app", private: true, dependencies: { "local-dep": "file:../dep" } }),
    );
    await runSteps(
      [{ "weir.steps.install_dependencies": { directory: join(dir.path, "app"), stream_output: false } }],
      ctx(dir.path),
    );
    expect(existsSync(join(dir.path, "app", "node_modules", "local-dep", "package.json"))).toBe(true);
  });

  test("says where no package.json is", async () => {
    using dir = tempDir();
    expect(
      await message(
        runSteps([{ "weir.steps.install_dependencies": { directory: dir.path } }], ctx(dir.path)),
      ),
    ).toContain(`no package.json in ${dir.path}`);
  });
});
