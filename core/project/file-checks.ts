import {
  type Document,
  isCollection,
  isMap,
  isScalar,
  type LineCounter,
  type Node,
  type Pair,
  visit,
  type YAMLMap,
} from "yaml";
import { typoOf } from "../model/index.ts";
import type { Registry } from "../plugin/index.ts";
import { stepShapeProblem } from "../steps/index.ts";
import { formatAt, posOf, type SourcePos } from "./source-error.ts";

// Checks of a project file beyond its types: keys Weir does not use (an error only when they are
// a typo of a key it does use, a warning otherwise, as Prefect ignores them), duplicate keys, and
// the steps of build, push and pull.

export interface Findings {
  /** The file is wrong: nothing is deployed. */
  errors: string[];
  /** Accepted, but something in the file is ignored or replaced: said, never fatal. */
  warnings: string[];
}

type At = (path: (string | number)[]) => SourcePos;

/** Keys Prefect files carry that belong somewhere else, and where. */
const MISPLACED: Record<string, string> = {
  job_variables: "it belongs under work_pool: (work_pool.job_variables)",
  job_configuration: "job settings belong under work_pool.job_variables",
  cron: "schedule fields belong under schedule: or schedules:",
  interval: "schedule fields belong under schedule: or schedules:",
  rrule: "schedule fields belong under schedule: or schedules:",
  timezone: "schedule fields belong under schedule: or schedules:",
  time_zone: "a schedule's timezone belongs under schedule: (as timezone)",
  anchor_date: "schedule fields belong under schedule: or schedules:",
  day_or: "schedule fields belong under schedule: or schedules:",
  active: "schedule fields belong under schedule: or schedules:",
  max_active_runs: "schedule fields belong under schedule: or schedules:",
  is_paused: "to pause a deployment, use paused: true",
  work_pool_name: "it belongs under work_pool: (as name)",
  infrastructure: "a Prefect 2 infrastructure block; in a project file use work_pool (and pull steps)",
  storage: "a Prefect 2 storage block; in a project file use pull steps",
  type: "a pool's type is set when it is created (weir work-pool create NAME --type TYPE)",
};

/**
 * Unknown keys of one mapping (a deployment or its work_pool): a likely typo of a known key is an
 * error with a did-you-mean; anything else is ignored with a warning saying so, and where the key
 * belongs when it is a known key in the wrong place.
 */
export function unknownKeys(
  map: unknown,
  known: readonly string[],
  where: string,
  lines: LineCounter,
  displayFile: string,
  source: string,
  out: Findings,
): void {
  if (!isMap(map)) return;
  for (const pair of (map as YAMLMap).items) {
    const key = (pair.key as { value?: unknown } | null)?.value;
    if (typeof key !== "string" || key === "<<" || known.includes(key)) continue;
    const pos = posOf(displayFile, lines, (pair.key as Node).range?.[0]);
    const typo = MISPLACED[key] ? undefined : typoOf(key, known);
    if (typo) {
      out.errors.push(formatAt(pos, `unknown field "${key}" in ${where} (did you mean "${typo}"?)`, source));
      continue;
    }
    const hint = MISPLACED[key] ? `: ${MISPLACED[key]}` : "";
    out.warnings.push(
      formatAt(pos, `"${key}" in ${where} is not a field Weir uses; it is ignored${hint}`, source),
    );
  }
}

/** A key written twice in one mapping: Prefect's loader keeps the last one silently; Weir says so. */
export function duplicateKeys(
  doc: Document,
  lines: LineCounter,
  displayFile: string,
  source: string,
): string[] {
  const warnings: string[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Map<string, Pair>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : undefined;
        if (typeof key !== "string" || key === "<<") continue;
        const first = seen.get(key);
        if (first) {
          const firstLine = posOf(displayFile, lines, (first.key as Node).range?.[0]).line;
          warnings.push(
            formatAt(
              posOf(displayFile, lines, (pair.key as Node).range?.[0]),
              `"${key}" is written twice in this mapping (also on line ${firstLine}); this later one is used, as Prefect does (remove the other)`,
              source,
            ),
          );
        }
        seen.set(key, pair);
      }
    },
  });
  return warnings;
}

export type Section = "build" | "push" | "pull";
export const SECTIONS: readonly Section[] = ["build", "push", "pull"];

export interface StepCheck {
  projectDir: string;
  registry: Registry;
  at: At;
  /** Position of a mapping key itself (an argument's name), else of what holds it. */
  keyAt: At;
  source: string;
  out: Findings;
}

/**
 * Checks each step of a build, push or pull list: its shape, that its name resolves now (build
 * and push module steps must exist in the project folder; pull module steps are looked up where
 * the run happens), and a plugin step's arguments against its schema, each problem at the
 * argument's position (values holding a placeholder are checked once resolved, at run time). A
 * step this build cannot run yet (its plugin is missing) is not an error of the file: it is
 * returned so each deployment that uses it can say so.
 */
export function checkSteps(
  steps: unknown,
  path: (string | number)[],
  section: Section,
  c: StepCheck,
): string[] {
  const unsupported: string[] = [];
  if (!Array.isArray(steps)) return unsupported;
  steps.forEach((step, j) => {
    const pos = c.at([...path, j]);
    const shape = stepShapeProblem(step);
    if (shape) {
      c.out.errors.push(formatAt(pos, `${section} step ${j + 1}: ${shape}`, c.source));
      return;
    }
    const [name, args] = Object.entries(step as Record<string, unknown>)[0]!;
    const kwargs = (args ?? null) as Record<string, unknown> | null;
    const def = c.registry.step(name);
    if (def) {
      for (const problem of c.registry.argumentProblems(def, kwargs, true)) {
        const at =
          problem.arg && kwargs && problem.arg in kwargs ? c.keyAt([...path, j, name, problem.arg]) : pos;
        c.out.errors.push(formatAt(at, `${section} step ${j + 1} (${name}): ${problem.message}`, c.source));
      }
      return;
    }
    const problem = c.registry.stepNameProblem(name, kwargs, section === "pull" ? undefined : c.projectDir);
    if (!problem) return;
    const text = formatAt(pos, `${section} step ${j + 1}: ${problem.message}`, c.source);
    if (problem.kind === "unsupported") unsupported.push(text);
    else c.out.errors.push(text);
  });
  return unsupported;
}

/**
 * Mappings or lists used as keys. Unquoted, `name: {{ prefect.variables.who }}` is YAML for a
 * mapping whose key is a mapping: PyYAML refuses it ("found unhashable key"), and a JavaScript
 * object would turn the key into text and the placeholder into nothing. Each is an error at its
 * place, with the quoting that was meant.
 */
export function collectionKeys(
  doc: Document,
  lines: LineCounter,
  displayFile: string,
  source: string,
): string[] {
  const errors: string[] = [];
  visit(doc, {
    Map(_, map) {
      if (!map.items.some((pair) => isCollection(pair.key))) return;
      const [start, end] = map.range ?? [0, 0];
      const text = source.slice(start, end).trim();
      const placeholder = /^\{\{[^\n]*\}\}$/.test(text);
      errors.push(
        formatAt(
          posOf(displayFile, lines, start),
          placeholder
            ? `a placeholder must be quoted: write "${text}" (unquoted, YAML reads {{ ... }} as a mapping inside a mapping)`
            : "a mapping or list is used as a key here, which YAML files for Prefect cannot hold (quote the text if it is meant as text)",
          source,
        ),
      );
      return visit.SKIP;
    },
  });
  return errors;
}
