import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { describeError, WeirError } from "../model/index.ts";
import type { Logger } from "../sdk/logger.ts";
import { asStep } from "./as-step.ts";
import { builtinSteps } from "./builtins.ts";
import { packageStep } from "./package-steps.ts";

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
}

export function resolveStep(name: string): StepFn | undefined {
  return registry.get(aliases.get(name) ?? name);
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
  const m = /^(\.{1,2}\/.+|\/.+):([A-Za-z_$][\w$]*)$/.exec(name);
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
    if (!step || typeof step !== "object" || Array.isArray(step) || Object.keys(step).length !== 1) {
      throw new WeirError(
        "INVALID",
        `Step ${i + 1} must be a mapping with exactly one key (the step's name)`,
      );
    }
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
      if (!fn) {
        throw new WeirError(
          "INVALID",
          `no such step (built-ins: ${[...registry.keys()].join(", ")}; or a local module ./file.ts:fn; or a package step pkg/module:fn with requires)`,
        );
      }
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
