import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { describeError, WeirError } from "../model/index.ts";
import { MODULE_STEP, type Registry } from "../plugin/index.ts";
import type { Logger } from "../sdk/logger.ts";
import { valueNames } from "../templating/index.ts";
import { asStep, type StepFn } from "./as-step.ts";
import { packageStep } from "./package-steps.ts";
import type { ProgressSink } from "./progress.ts";
import { scrub, stepContext } from "./step-context.ts";

/** What a list of steps runs with. */
export interface StepsOptions {
  registry: Registry;
  /** The folder the first step runs in. */
  cwd: string;
  /** The environment steps see (the caller's, usually process.env). */
  env: Record<string, string | undefined>;
  log: Logger;
  signal: AbortSignal;
  /** Resolves placeholders in a step's kwargs given the outputs so far (blocks, variables, $ENV). */
  resolve?: (
    kwargs: Record<string, unknown>,
    outputs: Record<string, unknown>,
  ) => Promise<Record<string, unknown>>;
  /** Strings that must never appear in output or messages; steps add the secrets they meet. */
  secrets?: string[];
  /** Where steps show progress (default: plain lines in the log; deploy on a terminal redraws). */
  progress?: ProgressSink;
  /**
   * What a step that changes the working directory (set_working_directory) does besides giving
   * later steps the new folder (default: process.chdir). Where several runs share the process (an
   * agent with `--isolation none`) the caller keeps the folder itself and the process keeps its own.
   */
  chdir?: (dir: string) => void;
  /**
   * Refuses a file of code a step would run from outside the folders allowed (a local module step,
   * `./steps/notify.ts:main`, on an agent); throws. Absent: anywhere (a deploy on its own machine).
   */
  confine?: (file: string, what: string) => void;
  /** Where step i is written (`weir.yaml:12:5`), to place warnings; absent: not from a file. */
  at?: (step: number) => string | undefined;
}

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
async function moduleStep(
  name: string,
  cwd: string,
  confine?: (file: string, what: string) => void,
): Promise<StepFn | undefined> {
  const m = MODULE_STEP.exec(name);
  if (!m) return undefined;
  const file = isAbsolute(m[1]!) ? m[1]! : resolve(cwd, m[1]!);
  confine?.(file, `step module ${m[1]} (${file})`);
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
 * and `requires`; its kwargs are resolved against the outputs so far, and a plugin step's are
 * checked against its schema; its output object is kept under its `id` and merged flat into the
 * outputs. The first failing step stops the list with an error naming the step, its id and the
 * cause, with every secret scrubbed.
 */
export async function runSteps(
  steps: unknown[],
  opts: StepsOptions,
  initial: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const outputs: Record<string, unknown> = { ...initial };
  const secrets = opts.secrets ?? [];
  let cwd = opts.cwd;
  for (const [i, step] of steps.entries()) {
    const shape = stepShapeProblem(step);
    if (shape) throw new WeirError("INVALID", `step ${i + 1}: ${shape}`);
    const [name, rawKwargs] = Object.entries(step as Record<string, unknown>)[0]!;
    const raw = (rawKwargs ?? {}) as Record<string, unknown>;
    const id = typeof raw.id === "string" ? raw.id : undefined;
    const label = `step ${i + 1} "${name}"${id ? ` (id ${id})` : ""}`;
    let out: Record<string, unknown> | undefined;
    const unknownRefs = [...valueNames(raw)].filter((n) => !(n.split(/[.[]/)[0]! in outputs));
    if (unknownRefs.length > 0) {
      const known = Object.keys(outputs);
      const where = opts.at?.(i);
      opts.log.warning(
        `${where ? `${where}: ` : ""}${label}: ${unknownRefs.map((n) => `{{ ${n} }}`).join(", ")} names no output of an earlier step (${known.length ? `there are: ${known.join(", ")}` : "no earlier step has an output"}); it is left out, so the argument's default applies`,
      );
    }
    try {
      const kwargs = opts.resolve ? await opts.resolve(raw, outputs) : raw;
      const ctx = stepContext({
        cwd,
        env: opts.env,
        log: opts.log,
        signal: opts.signal,
        secrets,
        chdir: (dir) => {
          cwd = dir;
          (opts.chdir ?? process.chdir)(dir);
        },
        progress: opts.progress,
      });
      const def = opts.registry.step(name);
      if (def) {
        out = await def.run(opts.registry.parseArguments(def, kwargs), ctx);
      } else {
        const fn = (await moduleStep(name, cwd, opts.confine)) ?? (await packageStep(name, raw.requires));
        if (!fn)
          throw new WeirError(
            "INVALID",
            opts.registry.stepNameProblem(name, raw)?.message ?? `no such step "${name}"`,
          );
        out = await withScrubbedConsole(secrets, () => fn(kwargs, ctx));
      }
    } catch (cause) {
      opts.progress?.done();
      // Name the blocks the step was given: the message can say which one, never what it holds.
      const blocks = Object.entries(raw)
        .filter(
          ([, x]) => typeof x === "string" && /^\{\{\s*(weir|prefect)\.blocks\.[^}]+\}\}$/.test(x.trim()),
        )
        .map(([k, x]) => `${k}: ${String(x).trim()}`);
      const from = blocks.length ? ` (${blocks.join("; ")})` : "";
      throw new WeirError("FAILED", scrub(`${label} failed: ${describeError(cause)}${from}`, secrets), {
        cause,
        // Which step (0-based), so a caller with the file can place the message at it.
        fields: { step: i },
      });
    }
    opts.progress?.done();
    if (out && typeof out === "object" && !Array.isArray(out)) {
      Object.assign(outputs, out);
      if (id) outputs[id] = out;
    }
  }
  return outputs;
}
