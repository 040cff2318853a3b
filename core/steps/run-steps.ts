import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { describeError, didYouMean, WeirError } from "../model/index.ts";
import type { Logger } from "../sdk/logger.ts";
import { asStep } from "./as-step.ts";
import { builtinSteps } from "./builtins.ts";
import { packageStep, packageStepInstalled, stepPackage } from "./package-steps.ts";

/** What a step receives besides its keyword arguments. */
export interface StepContext {
  cwd: string;
  log: Logger;
  signal: AbortSignal;
  /** Resolves placeholders in a step's kwargs given the outputs so far (blocks, variables, $ENV). */
  resolve?: (
    kwargs: Record<string, unknown>,
    outputs: Record<string, unknown>,
  ) => Promise<Record<string, unknown>>;
  /** Strings that must never appear in output or messages (secret block values, tokens). */
  secrets?: string[];
}

export type StepFn = (
  kwargs: Record<string, unknown>,
  ctx: StepContext,
) => Promise<Record<string, unknown> | undefined>;

const registry = new Map<string, StepFn>(Object.entries(builtinSteps));
const aliases = new Map<string, string>();

/** Plugins (git, s3, docker) add their steps here; `names` lists Prefect's spellings too. */
export function registerStep(canonical: string, fn: StepFn, names: string[] = []): void {
  registry.set(canonical, fn);
  for (const n of names) aliases.set(n, canonical);
}

for (const name of Object.keys(builtinSteps)) {
  const short = name.replace(/^weir\.steps\./, "");
  aliases.set(`prefect.deployments.steps.${short}`, name);
  aliases.set(`prefect.deployments.steps.utility.${short}`, name);
  aliases.set(`prefect.deployments.steps.pull.${short}`, name);
  aliases.set(`prefect.projects.steps.${short}`, name); // Prefect 2.10's "projects" names
}

export function resolveStep(name: string): StepFn | undefined {
  return registry.get(aliases.get(name) ?? name);
}

/**
 * Steps of plugins this build does not include yet, by every name Prefect files use, so a file
 * that needs one is told which plugin instead of "no such step". A plugin that registers a step
 * takes precedence over this table.
 */
const PLANNED: Record<string, { plugin: string; instead: string }> = {};
const plan = (plugin: string, instead: string, packages: string[], steps: string[]) => {
  for (const step of steps)
    for (const prefix of [
      "weir.steps",
      ...packages.flatMap((p) => [`${p}.deployments.steps`, `${p}.projects.steps`]),
    ])
      PLANNED[`${prefix}.${step}`] = { plugin, instead };
};
plan(
  "docker",
  "build and push the image outside Weir for now, and ship the code with a git_clone pull step",
  ["prefect_docker"],
  ["build_docker_image", "push_docker_image"],
);
plan(
  "s3",
  "ship the code with a git_clone pull step for now",
  ["prefect_aws"],
  ["push_to_s3", "pull_from_s3"],
);
plan(
  "gcs",
  "ship the code with a git_clone pull step for now",
  ["prefect_gcp"],
  ["push_to_gcs", "pull_from_gcs"],
);
plan(
  "azure",
  "ship the code with a git_clone pull step for now",
  ["prefect_azure"],
  ["push_to_azure_blob_storage", "pull_from_azure_blob_storage"],
);

/** The plugin a step name needs when this build does not have it (see PLANNED). */
export function missingPlugin(name: string): string | undefined {
  return resolveStep(name) ? undefined : PLANNED[name]?.plugin;
}

const MODULE_STEP = /^(\.{1,2}\/.+|\/.+):([A-Za-z_$][\w$]*)$/;

/**
 * Why a step is not a step, or null: a step is a one-key mapping of its name to a mapping of
 * arguments (or nothing). The usual mistake is arguments indented level with the name, which
 * makes them keys of the step itself.
 */
export function stepShapeProblem(step: unknown): string | null {
  const example = '- weir.steps.run_shell_script: { script: "echo hi" }';
  if (!step || typeof step !== "object" || Array.isArray(step)) {
    const got =
      step === null
        ? "nothing"
        : Array.isArray(step)
          ? "a list"
          : `the ${typeof step} ${JSON.stringify(step)}`;
    return `a step must be a mapping of one step name to its arguments, such as ${example} (got ${got})`;
  }
  const entries = Object.entries(step);
  if (entries.length === 0)
    return `a step must name the step to run, such as ${example} (got an empty mapping)`;
  if (entries.length > 1) {
    const [[first, args], ...rest] = entries as [[string, unknown], ...[string, unknown][]];
    const others = rest.map(([k]) => k).join(", ");
    return args == null
      ? `the step "${first}" has its arguments (${others}) beside its name instead of under it: indent them two more spaces, below "${first}:"`
      : `a step must have exactly one name, and this one has ${entries.length} (${entries.map(([k]) => k).join(", ")}): give each step its own "- " list item`;
  }
  const [name, args] = entries[0]!;
  if (args != null && (typeof args !== "object" || Array.isArray(args))) {
    return `the arguments of step "${name}" must be a mapping such as { key: value } (got ${Array.isArray(args) ? "a list" : `the ${typeof args} ${JSON.stringify(args)}`})`;
  }
  return null;
}

export interface StepNameProblem {
  /** "unknown": the file is wrong; "unsupported": valid, but this build cannot run the step. */
  kind: "unknown" | "unsupported";
  message: string;
}

/**
 * Why a step name cannot run, or null when it resolves: a built-in or plugin step, a local module
 * (`./steps/x.ts:fn`, checked on disk when `moduleDir` is given), or a package step that is
 * installed or names its package with `requires:`. Used at deploy, in the dry run and at run time.
 */
export function stepNameProblem(
  name: string,
  kwargs: Record<string, unknown> | null,
  moduleDir?: string,
): StepNameProblem | null {
  if (resolveStep(name)) return null;
  const planned = PLANNED[name];
  if (planned) {
    return {
      kind: "unsupported",
      message: `step "${name}" needs Weir's ${planned.plugin} plugin, which this build does not include yet; ${planned.instead}`,
    };
  }
  const m = MODULE_STEP.exec(name);
  if (m) {
    if (moduleDir === undefined) return null;
    const file = isAbsolute(m[1]!) ? m[1]! : resolve(moduleDir, m[1]!);
    return existsSync(file)
      ? null
      : {
          kind: "unknown",
          message: `step module ${m[1]} does not exist (looked in ${moduleDir}; module paths are relative to the project folder)`,
        };
  }
  const pkg = stepPackage(name);
  if (pkg) {
    if (typeof kwargs?.requires === "string" && kwargs.requires) return null;
    if (packageStepInstalled(name)) return null;
    return {
      kind: "unknown",
      message: `step package ${pkg} is not installed: add \`requires: ${pkg}@VERSION\` to the step "${name}" so Weir installs it`,
    };
  }
  const names = [...registry.keys(), ...aliases.keys(), ...Object.keys(PLANNED)];
  const hint = didYouMean(name, names);
  return {
    kind: "unknown",
    message: `no such step "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}: use a built-in (${[...registry.keys()].join(", ")}), a local module ./file.ts:fn, or a package step pkg/module:fn with requires`,
  };
}

/** Replaces every secret in a text with ***. */
export function scrub(text: string, secrets: string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.replaceAll(s, "***");
  return out;
}

/**
 * Module steps run in this process and may print what they were given: while a step runs, console
 * output has the secrets resolved so far replaced by ***.
 */
async function withScrubbedConsole<T>(secrets: string[], run: () => Promise<T>): Promise<T> {
  if (secrets.length === 0) return run();
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const saved = methods.map((m) => console[m]);
  for (const [i, m] of methods.entries()) {
    const original = saved[i]!;
    console[m] = (...args: unknown[]) =>
      original(...args.map((a) => (typeof a === "string" ? scrub(a, secrets) : a)));
  }
  try {
    return await run();
  } finally {
    for (const [i, m] of methods.entries()) console[m] = saved[i]!;
  }
}

/** A local module step: `./steps/notify.ts:main`, relative to the working directory. */
async function moduleStep(name: string, cwd: string): Promise<StepFn | undefined> {
  const m = MODULE_STEP.exec(name);
  if (!m) return undefined;
  const file = isAbsolute(m[1]!) ? m[1]! : resolve(cwd, m[1]!);
  if (!existsSync(file))
    throw new WeirError("INVALID", `step module ${m[1]} does not exist (looked in ${cwd})`);
  const mod = (await import(file)) as Record<string, unknown>;
  const fn = mod[m[2]!];
  if (typeof fn !== "function")
    throw new WeirError("INVALID", `step module ${m[1]} has no function export "${m[2]}"`);
  return asStep(fn as (k: Record<string, unknown>) => unknown);
}

/**
 * Runs a list of steps in order. A step is a one-key mapping `{ name: kwargs }` with reserved `id`
 * and `requires`; its kwargs are resolved against the outputs so far; its output object is kept
 * under its `id` and merged flat into the outputs (non-objects are ignored). The first failing
 * step stops the list with an error naming the step, its id and the cause.
 */
export async function runSteps(
  steps: unknown[],
  ctx: StepContext,
  initial: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const outputs: Record<string, unknown> = { ...initial };
  for (const [i, step] of steps.entries()) {
    const shape = stepShapeProblem(step);
    if (shape) throw new WeirError("INVALID", `step ${i + 1}: ${shape}`);
    const [name, rawKwargs] = Object.entries(step as Record<string, unknown>)[0]!;
    const raw = (rawKwargs ?? {}) as Record<string, unknown>;
    const id = typeof raw.id === "string" ? raw.id : undefined;
    const label = `step ${i + 1} "${name}"${id ? ` (id ${id})` : ""}`;
    let out: Record<string, unknown> | undefined;
    try {
      const fn =
        resolveStep(name) ??
        (await moduleStep(name, process.cwd())) ??
        (await packageStep(name, raw.requires));
      if (!fn)
        throw new WeirError("INVALID", stepNameProblem(name, raw)?.message ?? `no such step "${name}"`);
      const kwargs = ctx.resolve ? await ctx.resolve(raw, outputs) : raw;
      out = await withScrubbedConsole(ctx.secrets ?? [], () => fn(kwargs, { ...ctx, cwd: process.cwd() }));
    } catch (cause) {
      throw new WeirError("FAILED", scrub(`${label} failed: ${describeError(cause)}`, ctx.secrets), {
        cause,
      });
    }
    if (out && typeof out === "object" && !Array.isArray(out)) {
      Object.assign(outputs, out);
      if (id) outputs[id] = out;
    }
  }
  return outputs;
}
