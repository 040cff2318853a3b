import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { WeirError } from "../model/index.ts";
import type { StepContext, StepFn } from "./run-steps.ts";

/** Rejects kwargs a step does not take, naming the ones it does. */
export function checkKwargs(step: string, kwargs: Record<string, unknown>, known: string[]): void {
  const unknown = Object.keys(kwargs).filter((k) => k !== "id" && k !== "requires" && !known.includes(k));
  if (unknown.length) {
    throw new WeirError(
      "INVALID",
      `${step}: unknown argument(s) ${unknown.join(", ")} (it takes: ${known.join(", ")})`,
    );
  }
}

const str = (
  step: string,
  kwargs: Record<string, unknown>,
  key: string,
  required = false,
): string | undefined => {
  const v = kwargs[key];
  if (v === undefined || v === null) {
    if (required) throw new WeirError("INVALID", `${step}: \`${key}\` is required`);
    return undefined;
  }
  if (typeof v !== "string") throw new WeirError("INVALID", `${step}: \`${key}\` must be a string`);
  return v;
};

/** Splits a command line like a POSIX shell would (quotes and backslashes), without running one. */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: '"' | "'" | null = null;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (cur || has) out.push(cur);
      cur = "";
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) throw new WeirError("INVALID", `unclosed ${quote} quote in: ${line}`);
  if (cur || has) out.push(cur);
  return out;
}

const expandVars = (text: string, env: Record<string, string | undefined>) =>
  text.replace(/\$(\w+)|\$\{(\w+)\}/g, (m, a, b) => env[a ?? b] ?? m);

async function runLine(
  argv: string[],
  cwd: string,
  env: Record<string, string | undefined>,
  ctx: StepContext,
  stream: boolean,
) {
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(argv, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", signal: ctx.signal });
  } catch (e) {
    throw new WeirError(
      "FAILED",
      `cannot run "${argv[0]}": ${(e as Error).message} (is it installed and on PATH?)`,
    );
  }
  const read = async (s: ReadableStream<Uint8Array>, sink: (line: string) => void) => {
    let text = "";
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of s) {
      const part = decoder.decode(chunk, { stream: true });
      text += part;
      if (!stream) continue;
      pending += part;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const l of lines) sink(l);
    }
    if (stream && pending) sink(pending);
    return text;
  };
  const [stdout, stderr, code] = await Promise.all([
    read(proc.stdout as ReadableStream<Uint8Array>, (l) => ctx.log.info(scrubLine(l, ctx))),
    read(proc.stderr as ReadableStream<Uint8Array>, (l) => ctx.log.warning(scrubLine(l, ctx))),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

const scrubLine = (l: string, ctx: StepContext) => {
  let out = l;
  for (const s of ctx.secrets ?? []) if (s.length >= 3) out = out.replaceAll(s, "***");
  return out;
};

export const builtinSteps: Record<string, StepFn> = {
  "weir.steps.set_working_directory": async (kwargs, ctx) => {
    const step = "set_working_directory";
    checkKwargs(step, kwargs, ["directory"]);
    const dir = resolve(ctx.cwd, str(step, kwargs, "directory", true)!);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new WeirError("INVALID", `${step}: directory ${dir} does not exist on this machine`);
    }
    process.chdir(dir);
    return { directory: dir };
  },

  /** Prefect's run_shell_script: each line is one command, run without a shell; the first failure stops. */
  "weir.steps.run_shell_script": async (kwargs, ctx) => {
    const step = "run_shell_script";
    checkKwargs(step, kwargs, ["script", "directory", "env", "stream_output", "expand_env_vars"]);
    const script = str(step, kwargs, "script", true)!;
    const dir = kwargs.directory ? resolve(ctx.cwd, str(step, kwargs, "directory")!) : ctx.cwd;
    if (!existsSync(dir)) throw new WeirError("INVALID", `${step}: directory ${dir} does not exist`);
    const extra = kwargs.env ?? {};
    if (typeof extra !== "object" || Array.isArray(extra))
      throw new WeirError("INVALID", `${step}: \`env\` must be a mapping`);
    const env = {
      ...process.env,
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, String(v)])),
    };
    const stream = kwargs.stream_output !== false;
    const stdouts: string[] = [];
    const stderrs: string[] = [];
    for (const raw of script.split("\n")) {
      const line = kwargs.expand_env_vars === true ? expandVars(raw, env) : raw;
      const argv = splitCommand(line);
      if (argv.length === 0) continue;
      const r = await runLine(argv, dir, env, ctx, stream);
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

  /**
   * The TypeScript counterpart of pip_install_requirements: the binary's own package manager
   * (Bun's, built in) installs a project's package.json dependencies.
   */
  "weir.steps.install_dependencies": async (kwargs, ctx) => {
    const step = "install_dependencies";
    checkKwargs(step, kwargs, ["directory", "stream_output", "frozen_lockfile"]);
    const dir = resolve(ctx.cwd, str(step, kwargs, "directory") ?? ".");
    if (!existsSync(resolve(dir, "package.json")))
      throw new WeirError("INVALID", `${step}: no package.json in ${dir}`);
    const argv = [
      process.execPath,
      "install",
      ...(kwargs.frozen_lockfile === true ? ["--frozen-lockfile"] : []),
    ];
    const r = await runLine(
      argv,
      dir,
      { ...process.env, BUN_BE_BUN: "1" },
      ctx,
      kwargs.stream_output !== false,
    );
    if (r.code !== 0)
      throw new WeirError(
        "FAILED",
        `package install in ${dir} exited with code ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`,
      );
    return { stdout: r.stdout.trimEnd(), stderr: r.stderr.trimEnd() };
  },

  /** Accepted for prefect.yaml files: runs pip when a requirements file and pip exist. */
  "weir.steps.pip_install_requirements": async (kwargs, ctx) => {
    const step = "pip_install_requirements";
    checkKwargs(step, kwargs, ["directory", "requirements_file", "stream_output"]);
    const dir = resolve(ctx.cwd, str(step, kwargs, "directory") ?? ".");
    const file = str(step, kwargs, "requirements_file") ?? "requirements.txt";
    if (!existsSync(resolve(dir, file)))
      throw new WeirError("INVALID", `${step}: ${file} does not exist in ${dir}`);
    const pip = Bun.which("pip3") ?? Bun.which("pip");
    if (!pip)
      throw new WeirError(
        "FAILED",
        `${step}: pip is not installed on this machine (TypeScript projects use weir.steps.install_dependencies)`,
      );
    const r = await runLine(
      [pip, "install", "-r", file],
      dir,
      process.env,
      ctx,
      kwargs.stream_output !== false,
    );
    if (r.code !== 0) throw new WeirError("FAILED", `pip install exited with code ${r.code}`);
    return { stdout: r.stdout.trimEnd(), stderr: r.stderr.trimEnd() };
  },
};
