import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { WeirError } from "../model/index.ts";
import type { Logger } from "../sdk/logger.ts";

/** What a step receives besides its keyword arguments. */
export interface StepContext {
  cwd: string;
  log: Logger;
  signal: AbortSignal;
}

export type StepFn = (
  kwargs: Record<string, unknown>,
  ctx: StepContext,
) => Promise<Record<string, unknown> | undefined>;

/** Built-in steps by their canonical name; Prefect's names resolve to them through ALIASES. */
const BUILTINS: Record<string, StepFn> = {
  "weir.steps.set_working_directory": async (kwargs, ctx) => {
    const { directory, ...rest } = kwargs;
    const unknown = Object.keys(rest).filter((k) => k !== "id" && k !== "requires");
    if (unknown.length)
      throw new WeirError(
        "INVALID",
        `set_working_directory: unknown argument(s) ${unknown.join(", ")} (it takes: directory)`,
      );
    if (typeof directory !== "string" || !directory) {
      throw new WeirError("INVALID", "set_working_directory: `directory` must be a path");
    }
    const dir = resolve(ctx.cwd, directory);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new WeirError(
        "INVALID",
        `set_working_directory: directory ${dir} does not exist on this machine`,
      );
    }
    process.chdir(dir);
    return { directory: dir };
  },
};

const ALIASES: Record<string, string> = {
  "prefect.deployments.steps.set_working_directory": "weir.steps.set_working_directory",
  "prefect.deployments.steps.utility.set_working_directory": "weir.steps.set_working_directory",
};

export function resolveStep(name: string): StepFn | undefined {
  return BUILTINS[ALIASES[name] ?? name];
}

/**
 * Runs a list of steps in order. A step is a one-key mapping `{ name: kwargs }`; its output is kept
 * under its `id` and merged flat into the outputs. The first failing step stops the list.
 */
export async function runSteps(steps: unknown[], ctx: StepContext): Promise<Record<string, unknown>> {
  const outputs: Record<string, unknown> = {};
  for (const [i, step] of steps.entries()) {
    if (!step || typeof step !== "object" || Array.isArray(step) || Object.keys(step).length !== 1) {
      throw new WeirError(
        "INVALID",
        `Step ${i + 1} must be a mapping with exactly one key (the step's name)`,
      );
    }
    const [name, rawKwargs] = Object.entries(step as Record<string, unknown>)[0]!;
    const kwargs = (rawKwargs ?? {}) as Record<string, unknown>;
    const fn = resolveStep(name);
    const label = `step ${i + 1} "${name}"${typeof kwargs.id === "string" ? ` (id ${kwargs.id})` : ""}`;
    if (!fn) throw new WeirError("INVALID", `Cannot run ${label}: no such step in this version of weir`);
    let out: Record<string, unknown> | undefined;
    try {
      out = await fn(kwargs, { ...ctx, cwd: process.cwd() });
    } catch (cause) {
      throw new WeirError("FAILED", `${label} failed: ${(cause as Error).message}`, { cause });
    }
    if (out && typeof out === "object") {
      Object.assign(outputs, out);
      if (typeof kwargs.id === "string") outputs[kwargs.id] = out;
    }
  }
  return outputs;
}
