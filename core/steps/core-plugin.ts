import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import * as v from "valibot";
import { processInfrastructure } from "../infra/index.ts";
import {
  CORE_BLOCK_TYPES,
  INFRASTRUCTURE_BLOCK_FIELDS,
  splitCommand,
  textField,
  WeirError,
} from "../model/index.ts";
import { definePlugin, defineStep } from "../plugin/index.ts";

// Weir's built-in steps, as a plugin like any other. Prefect's names for them (all eras) resolve
// to the same steps.

const expandVars = (text: string, env: Record<string, string | undefined>) =>
  text.replace(/\$(\w+)|\$\{(\w+)\}/g, (m, a, b) => env[a ?? b] ?? m);

/** Prefect's own names for a built-in step, from every era of Prefect 2 and 3. */
const prefectNames = (short: string) => [
  `prefect.deployments.steps.${short}`,
  `prefect.deployments.steps.utility.${short}`,
  `prefect.deployments.steps.pull.${short}`,
  `prefect.projects.steps.${short}`,
];

const path = v.string("must be a folder path (a string)");
const flag = v.optional(v.boolean("must be true or false"));

const setWorkingDirectory = defineStep({
  name: "weir.steps.set_working_directory",
  aliases: prefectNames("set_working_directory"),
  description: "move the steps that follow, and the flow run, into a folder",
  args: v.strictObject({ directory: path }),
  async run({ directory }, ctx) {
    const dir = resolve(ctx.cwd, directory);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new WeirError(
        "INVALID",
        `set_working_directory: directory ${dir} does not exist on this machine`,
      );
    }
    ctx.chdir(dir);
    return { directory: dir };
  },
});

const runShellScript = defineStep({
  name: "weir.steps.run_shell_script",
  aliases: prefectNames("run_shell_script"),
  description: "run each line of a script as one command, without a shell; the first failure stops",
  args: v.strictObject({
    script: v.string("must be the commands to run, one per line"),
    directory: v.optional(path),
    env: v.optional(v.record(v.string(), v.unknown(), "must be a mapping of variable names to values")),
    stream_output: flag,
    expand_env_vars: flag,
  }),
  async run(args, ctx) {
    const dir = args.directory ? resolve(ctx.cwd, args.directory) : ctx.cwd;
    if (!existsSync(dir)) throw new WeirError("INVALID", `run_shell_script: directory ${dir} does not exist`);
    const env = {
      ...ctx.env,
      ...Object.fromEntries(Object.entries(args.env ?? {}).map(([k, x]) => [k, String(x)])),
    };
    const stdouts: string[] = [];
    const stderrs: string[] = [];
    for (const raw of args.script.split("\n")) {
      const line = args.expand_env_vars === true ? expandVars(raw, env) : raw;
      const argv = splitCommand(line);
      if (argv.length === 0) continue;
      const r = await ctx.run(argv, { cwd: dir, env, stream: args.stream_output !== false });
      stdouts.push(r.stdout.trimEnd());
      stderrs.push(r.stderr.trimEnd());
      if (r.code !== 0) {
        const tail = r.stderr.trim().split("\n").slice(-5).join("\n");
        throw new WeirError(
          "FAILED",
          `command \`${line.trim()}\` exited with code ${r.code}${tail ? `:\n${tail}` : ""}`,
        );
      }
    }
    return { stdout: stdouts.filter(Boolean).join("\n"), stderr: stderrs.filter(Boolean).join("\n") };
  },
});

/**
 * The TypeScript counterpart of pip_install_requirements: the binary's own package manager
 * (Bun's, built in) installs a project's package.json dependencies.
 */
const installDependencies = defineStep({
  name: "weir.steps.install_dependencies",
  description: "install a project's package.json dependencies with the binary's own package manager",
  args: v.strictObject({ directory: v.optional(path), stream_output: flag, frozen_lockfile: flag }),
  async run(args, ctx) {
    const dir = resolve(ctx.cwd, args.directory ?? ".");
    if (!existsSync(resolve(dir, "package.json")))
      throw new WeirError(
        "INVALID",
        `install_dependencies: no package.json in ${dir}${args.directory === undefined ? ' (files a git_clone fetched are in its output folder: give directory: "{{ CLONE-STEP-ID.directory }}")' : ""}`,
      );
    const argv = [
      process.execPath,
      "install",
      ...(args.frozen_lockfile === true ? ["--frozen-lockfile"] : []),
    ];
    const r = await ctx.run(argv, {
      cwd: dir,
      env: { ...ctx.env, BUN_BE_BUN: "1" },
      stream: args.stream_output !== false,
    });
    if (r.code !== 0)
      throw new WeirError(
        "FAILED",
        `package install in ${dir} exited with code ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`,
      );
    return { stdout: r.stdout.trimEnd(), stderr: r.stderr.trimEnd() };
  },
});

/** Accepted for prefect.yaml files: runs pip when a requirements file and pip exist. */
const pipInstallRequirements = defineStep({
  name: "weir.steps.pip_install_requirements",
  aliases: prefectNames("pip_install_requirements"),
  description:
    "pip install -r requirements.txt (for prefect.yaml files; TypeScript projects use install_dependencies)",
  args: v.strictObject({
    directory: v.optional(path),
    requirements_file: v.optional(v.string("must be a file name")),
    stream_output: flag,
  }),
  async run(args, ctx) {
    const dir = resolve(ctx.cwd, args.directory ?? ".");
    const file = args.requirements_file ?? "requirements.txt";
    if (!existsSync(resolve(dir, file)))
      throw new WeirError("INVALID", `pip_install_requirements: ${file} does not exist in ${dir}`);
    const pip =
      Bun.which("pip3", { PATH: ctx.env.PATH ?? "" }) ?? Bun.which("pip", { PATH: ctx.env.PATH ?? "" });
    if (!pip)
      throw new WeirError(
        "FAILED",
        "pip_install_requirements: pip is not installed on this machine (TypeScript projects use weir.steps.install_dependencies)",
      );
    const r = await ctx.run([pip, "install", "-r", file], { cwd: dir, stream: args.stream_output !== false });
    if (r.code !== 0) throw new WeirError("FAILED", `pip install exited with code ${r.code}`);
    return { stdout: r.stdout.trimEnd(), stderr: r.stderr.trimEnd() };
  },
});

export const corePlugin = definePlugin({
  name: "core",
  steps: [setWorkingDirectory, runShellScript, installDependencies, pipInstallRequirements],
  blockTypes: [
    ...CORE_BLOCK_TYPES,
    {
      slug: "local-file-system",
      name: "Local File System",
      description:
        "A folder agents can read (Prefect 2 storage block; weir deployment build -sb local-file-system/NAME)",
      fields: { basepath: textField("the folder", { required: true }) },
    },
    {
      slug: "process",
      name: "Process",
      description:
        "A Prefect 2 infrastructure block: runs as processes with these settings (weir deployment build -ib process/NAME)",
      fields: { ...INFRASTRUCTURE_BLOCK_FIELDS, working_dir: textField("the folder runs start in") },
    },
  ],
  provides: ["prefect"],
  infrastructure: [processInfrastructure],
});
