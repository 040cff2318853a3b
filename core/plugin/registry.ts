import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import * as v from "valibot";
import type { Infrastructure } from "../infra/index.ts";
import { type BlockType, didYouMean, WeirError } from "../model/index.ts";
import { packageStepInstalled, stepPackage } from "../steps/package-steps.ts";
import type { Plugin, StepDefinition } from "./plugin.ts";

/** A local module step: `./steps/notify.ts:main` (relative to the working directory) or absolute. */
export const MODULE_STEP = /^(\.{1,2}\/.+|\/.+):([A-Za-z_$][\w$]*)$/;

/**
 * Steps of plugins Weir plans but this build does not include, by every name Prefect files use,
 * so a file that needs one is told which plugin instead of "no such step". A registered step with
 * the same name takes precedence.
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
  "gcs",
  "ship the code with a git_clone, S3 or Azure step for now",
  ["prefect_gcp"],
  ["push_to_gcs", "pull_from_gcs"],
);

/**
 * Prefect's steps that load a storage block's own Python code to pull: Weir has no Python, so
 * these are named as not supported yet, with what to write instead.
 */
const NOT_YET: Record<string, string> = {};
for (const [step, instead] of [
  [
    "pull_with_block",
    "pull with the storage's own step instead (weir.steps.git_clone, prefect_aws.deployments.steps.pull_from_s3, prefect_azure.deployments.steps.pull_from_azure_blob_storage)",
  ],
  [
    "pull_from_remote_storage",
    "pull with the storage's own step instead (prefect_aws.deployments.steps.pull_from_s3, prefect_azure.deployments.steps.pull_from_azure_blob_storage, weir.steps.git_clone)",
  ],
])
  for (const prefix of [
    "prefect.deployments.steps",
    "prefect.deployments.steps.pull",
    "prefect.projects.steps",
  ])
    NOT_YET[`${prefix}.${step}`] = instead!;

export interface StepNameProblem {
  /** "unknown": the file is wrong; "unsupported": valid, but this build cannot run the step. */
  kind: "unknown" | "unsupported";
  message: string;
}

export interface ArgumentProblem {
  /** The argument the problem is about (null for the arguments as a whole). */
  arg: string | null;
  message: string;
}

const RESERVED = new Set(["id", "requires"]);

const hasPlaceholder = (value: unknown): boolean =>
  typeof value === "string"
    ? value.includes("{{")
    : value !== null && typeof value === "object" && Object.values(value).some(hasPlaceholder);

/**
 * The plugins of this build, looked up by step name and block type. Built once by the command
 * that needs it (from the built-in plugin and plugins/index.ts) and passed down.
 */
export class Registry {
  readonly #steps = new Map<string, StepDefinition>();
  readonly #blockTypes = new Map<string, BlockType>();
  readonly #provides = new Set<string>();
  readonly #infrastructure = new Map<string, Infrastructure>();

  constructor(readonly plugins: readonly Plugin[]) {
    for (const p of plugins) {
      for (const s of p.steps) for (const n of [s.name, ...(s.aliases ?? [])]) this.#steps.set(n, s);
      for (const t of p.blockTypes) this.#blockTypes.set(t.slug, t);
      for (const pkg of p.provides ?? []) this.#provides.add(pkg);
      for (const i of p.infrastructure ?? []) this.#infrastructure.set(i.type, i);
    }
  }

  /** The step a name (Weir's or one of Prefect's) stands for. */
  step(name: string): StepDefinition | undefined {
    return this.#steps.get(name);
  }

  /** Every step, once each. */
  get steps(): StepDefinition[] {
    return [...new Set(this.#steps.values())];
  }

  blockType(slug: string): BlockType | undefined {
    return this.#blockTypes.get(slug);
  }

  get blockTypes(): BlockType[] {
    return [...this.#blockTypes.values()];
  }

  /** The infrastructure of a work pool type, or undefined when this build has none. */
  infrastructure(type: string): Infrastructure | undefined {
    return this.#infrastructure.get(type);
  }

  /** Work pool types this build can run, in plugin order. */
  get poolTypes(): string[] {
    return [...this.#infrastructure.keys()];
  }

  /** The pool type whose job variables include all of these (for "create the pool" hints). */
  poolTypeFor(jobVariables: Record<string, unknown> | null | undefined): string {
    const keys = Object.keys(jobVariables ?? {}).map((k) => k.split(".")[0]!);
    for (const infra of this.#infrastructure.values())
      if (keys.every((k) => k in infra.jobVariables.entries)) return infra.type;
    return "process";
  }

  /** The infrastructure of a pool type; an INVALID error naming the types there are otherwise. */
  requireInfrastructure(type: string, what: string): Infrastructure {
    const infra = this.infrastructure(type);
    if (infra) return infra;
    const hint = didYouMean(type, this.poolTypes);
    throw new WeirError(
      "INVALID",
      `${what}: work pool type "${type}" is not known${hint ? ` (did you mean "${hint}"?)` : ""}; this build runs: ${this.poolTypes.join(", ")}`,
    );
  }

  /** The plugin a step name needs when this build does not have it. */
  missingPlugin(name: string): string | undefined {
    return this.step(name) ? undefined : PLANNED[name]?.plugin;
  }

  /**
   * Why a step name cannot run, or null when it resolves: a plugin step, a local module (checked
   * on disk when `moduleDir` is given), or a package step that is installed or names its package
   * with `requires:`. Used at deploy, in the dry run and when a run's steps start.
   */
  stepNameProblem(
    name: string,
    kwargs: Record<string, unknown> | null,
    moduleDir?: string,
  ): StepNameProblem | null {
    if (this.step(name)) return null;
    if (NOT_YET[name])
      return {
        kind: "unsupported",
        message: `step "${name}" is not supported yet (it runs a storage block's Python code, and Weir runs no Python); ${NOT_YET[name]}`,
      };
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
    const hint = didYouMean(name, [...this.#steps.keys(), ...Object.keys(PLANNED)]);
    // A step of one of Prefect's Python integrations Weir does not provide (prefect_dbt, ...):
    // named as such, not as a typo of a step it only looks like.
    const python = /^(prefect_[a-z0-9_]+)\./.exec(name)?.[1];
    const sameStep = hint?.split(".")[0] === python || hint?.split(".").at(-1) === name.split(".").at(-1);
    if (python && !sameStep)
      return {
        kind: "unsupported",
        message: `step "${name}" comes from Prefect's Python package ${python.replaceAll("_", "-")}, and Weir runs no Python: run its command with weir.steps.run_shell_script (script: the command line), or write a local module step ./steps/NAME.ts:fn`,
      };
    return {
      kind: "unknown",
      message: `no such step "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}: use a built-in (${this.steps.map((s) => s.name).join(", ")}), a local module ./file.ts:fn, or a package step pkg/module:fn with requires`,
    };
  }

  /**
   * What is wrong with a plugin step's arguments, argument by argument. At deploy
   * (`deployTime`), a value that still holds a placeholder is not checked: it is only known once
   * resolved, when the step runs.
   */
  argumentProblems(
    step: StepDefinition,
    kwargs: Record<string, unknown> | null,
    deployTime: boolean,
  ): ArgumentProblem[] {
    const given = Object.fromEntries(Object.entries(kwargs ?? {}).filter(([k]) => !RESERVED.has(k)));
    const entries = (step.args as unknown as { entries?: Record<string, v.GenericSchema> }).entries;
    if (!entries) return issuesOf(v.safeParse(step.args, given), null);
    const problems: ArgumentProblem[] = [];
    const known = Object.keys(entries);
    for (const key of Object.keys(given)) {
      if (known.includes(key)) continue;
      const hint = didYouMean(key, known);
      problems.push({
        arg: key,
        message: `unknown argument "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}; ${shortName(step)} takes: ${known.join(", ")}`,
      });
    }
    for (const [key, schema] of Object.entries(entries)) {
      const value = given[key];
      if (deployTime && value === undefined && step.requiredAtDeploy?.includes(key)) {
        // What the argument must be, from its own schema (the optional wrapper's inner message).
        const inner = schema as { wrapped?: { message?: unknown }; message?: unknown };
        const what = inner.wrapped?.message ?? inner.message;
        problems.push({
          arg: key,
          message: `argument "${key}" is required${typeof what === "string" ? `: it ${what}` : ""}`,
        });
        continue;
      }
      if (deployTime && hasPlaceholder(value)) continue;
      const r = v.safeParse(schema, value);
      if (r.success) continue;
      problems.push({
        arg: key,
        message:
          value === undefined
            ? `argument "${key}" is required`
            : `argument "${key}": ${r.issues[0]?.message ?? "is not valid"}`,
      });
    }
    // Rules across arguments (either this or that): once each argument is right and known.
    if (problems.length === 0 && !(deployTime && hasPlaceholder(given))) {
      const r = v.safeParse(step.args, given);
      if (!r.success) problems.push(...issuesOf(r, null));
    }
    return problems;
  }

  /** A plugin step's resolved arguments, checked in full; throws INVALID naming each problem. */
  parseArguments(step: StepDefinition, kwargs: Record<string, unknown> | null): unknown {
    const problems = this.argumentProblems(step, kwargs, false);
    if (problems.length > 0)
      throw new WeirError("INVALID", `${shortName(step)}: ${problems.map((p) => p.message).join("; ")}`);
    const given = Object.fromEntries(Object.entries(kwargs ?? {}).filter(([k]) => !RESERVED.has(k)));
    return v.parse(step.args, given);
  }
}

const shortName = (step: StepDefinition) => step.name.replace(/^weir\.steps\./, "");

function issuesOf(r: v.SafeParseResult<v.GenericSchema>, arg: string | null): ArgumentProblem[] {
  if (r.success) return [];
  return r.issues.map((i) => ({ arg: arg ?? v.getDotPath(i), message: i.message }));
}
