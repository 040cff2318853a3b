import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, relative, resolve } from "node:path";
import * as v from "valibot";
import { isAlias, isMap, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import { DEFAULT_LIMITS, LIMIT_SETTINGS, type Limits } from "../config/index.ts";
import { typoOf, WeirError } from "../model/index.ts";
import type { Registry } from "../plugin/index.ts";
import { assertDeployable, compileSchedule, scheduleSpec } from "../schedules/index.ts";
import { createRegistry } from "../steps/index.ts";
import { blockInText } from "../templating/index.ts";
import {
  checkSteps,
  collectionKeys,
  duplicateKeys,
  type Findings,
  SECTIONS,
  type Section,
  unknownKeys,
} from "./file-checks.ts";
import { isLegacyDeploymentFile } from "./legacy.ts";
import {
  DEPLOYMENT_KEYS,
  type DeploymentSection,
  ProjectFile,
  TOP_LEVEL_KEYS,
  WORK_POOL_KEYS,
} from "./project-file.ts";
import { formatAt, posOf, type SourcePos, sourceError } from "./source-error.ts";

/** How many alias expansions a project file may make (yaml's guard against alias bombs). */
const MAX_ALIAS_COUNT = 10_000;

export interface ScheduleItem {
  schedule: Record<string, unknown>;
  active?: boolean;
  parameters?: Record<string, unknown>;
  slug?: string | null;
  max_active_runs?: number | null;
  catchup?: boolean | null;
}

export interface DeploymentSpec extends DeploymentSection {
  /** Checked schedules in canonical form; undefined when the file sets neither schedule nor schedules. */
  scheduleItems?: ScheduleItem[];
  /** Position of the deployment's mapping, for messages about it. */
  pos: SourcePos;
  /** Position of its entrypoint field (the mapping's when absent). */
  entrypointPos: SourcePos;
  /** Position of one of its default parameters (the nearest enclosing node's when absent). */
  parametersPos: (name: string) => SourcePos;
  /** Position of one of its work_pool.job_variables (the nearest enclosing node's when absent). */
  jobVariablesPos: (name: string) => SourcePos;
  /** Position of any field below it, by path (`["work_pool", "name"]`; the nearest node's when absent). */
  fieldPos: (path: (string | number)[]) => SourcePos;
  /** Steps of its build, push and pull that this build of Weir cannot run (positioned messages). */
  unsupported: string[];
  /** A later entry with the same name and entrypoint replaces this one (Prefect's behaviour). */
  replaced: boolean;
}

export interface Project {
  file: string;
  /** Shown in messages: the path as the user would write it. */
  displayFile: string;
  dir: string;
  name: string | null;
  /** Step lists (each step checked by checkSteps()). */
  build: unknown[] | null;
  push: unknown[] | null;
  pull: unknown[] | null;
  /** Which of build/push/pull each deployment sets itself (a present null means "no steps"). */
  overrides: { build: boolean; push: boolean; pull: boolean }[];
  deployments: DeploymentSpec[];
  /** Accepted but ignored or replaced: printed by deploy and the dry run, never fatal. */
  warnings: string[];
  source: string;
  /** Position of any node of the file by path (`["build", 0]`; the nearest node's when absent). */
  posOf?: (path: (string | number)[]) => SourcePos;
}

/** weir.yaml, else prefect.yaml, in `dir`; or the explicit `file`. */
export function findProjectFile(dir: string, file?: string): string {
  if (file) {
    const p = resolve(dir, file);
    if (!existsSync(p)) throw new WeirError("INVALID", `Project file ${file} does not exist (check --file)`);
    return p;
  }
  for (const name of ["weir.yaml", "weir.yml", "prefect.yaml", "prefect.yml"]) {
    const p = resolve(dir, name);
    if (existsSync(p)) return p;
  }
  throw new WeirError(
    "INVALID",
    `No weir.yaml (or prefect.yaml) in ${dir} (run from your project's folder, pass --file PATH, or create weir.yaml with a "deployments:" list: weir init writes one)`,
  );
}

/**
 * Reads and validates a project file. YAML anchors, aliases and `<<` merge keys work everywhere.
 * Every problem is reported at once, each as file:line:column with the line and a fix; what Weir
 * accepts but ignores (keys Prefect also ignores, duplicate keys) comes back as warnings.
 */
export interface LoadOptions {
  /** Paths in messages are relative to this folder (default: the current one). */
  cwd?: string;
  limits?: Limits;
  /** The steps and block types of this build (default: Weir's built-in ones only). */
  registry?: Registry;
}

export function loadProject(path: string, opts: LoadOptions = {}): Project {
  const cwd = opts.cwd ?? process.cwd();
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const registry = opts.registry ?? createRegistry([]);
  const displayFile = relative(cwd, path) || basename(path);
  let source: string;
  try {
    const size = statSync(path).size;
    if (size > limits.maxProjectFileBytes) {
      throw new WeirError(
        "INVALID",
        `${displayFile} is ${size} bytes, over the ${limits.maxProjectFileBytes}-byte limit for a project file (${LIMIT_SETTINGS.maxProjectFileBytes} raises it)`,
      );
    }
    source = readFileSync(path, "utf8");
  } catch (cause) {
    if (cause instanceof WeirError) throw cause;
    throw new WeirError("INVALID", `Cannot read ${displayFile}: ${(cause as Error).message}`, { cause });
  }
  return parseProject(source, { path, displayFile, registry, limits });
}

/**
 * A project from its text: what loadProject reads from weir.yaml, and what deploy() in code
 * writes as the same YAML (so both go through one loader and one set of checks). `path` is the
 * file's (its folder is the project's); `displayFile` names it in messages.
 */
export function parseProject(
  source: string,
  opts: { path: string; displayFile: string; registry?: Registry; limits?: Limits },
): Project {
  const { path, displayFile } = opts;
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const registry = opts.registry ?? createRegistry([]);
  const lines = new LineCounter();
  // Duplicate keys are allowed (Prefect's loader keeps the last); duplicateKeys() warns about them.
  const doc = parseDocument(source, {
    lineCounter: lines,
    merge: true,
    prettyErrors: false,
    uniqueKeys: false,
  });
  if (doc.errors.length > 0) {
    throw sourceError(
      doc.errors.map((e) => {
        const pos = posOf(displayFile, lines, e.pos[0]);
        return formatAt(
          pos,
          `YAML syntax error: ${e.message.split("\n")[0]} (fix the YAML at this spot)`,
          source,
        );
      }),
    );
  }
  const keyErrors = collectionKeys(doc, lines, displayFile, source);
  if (keyErrors.length) throw sourceError(keyErrors);
  let data: any;
  try {
    // Aliases of aliases multiply (a "billion laughs" file): expansion stops at the alias limit.
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    const bomb = /alias/i.test(String((err as Error)?.message));
    throw sourceError([
      formatAt(
        { file: displayFile, line: 1, col: 1 },
        bomb
          ? `its aliases expand to more than ${MAX_ALIAS_COUNT} nodes, which looks like an alias bomb (use fewer nested aliases)`
          : `the file cannot be read as YAML data: ${(err as Error)?.message ?? String(err)}`,
        source,
      ),
    ]);
  }
  const at = (path: (string | number)[]): SourcePos => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && typeof node === "object" && "range" in node && node.range)
        return posOf(displayFile, lines, node.range[0]);
    }
    return { file: displayFile, line: 1, col: 1 };
  };

  const keyAt = (path: (string | number)[]): SourcePos => {
    const holder = resolveAlias(doc, doc.getIn(path.slice(0, -1), true));
    const pair = isMap(holder)
      ? (holder as YAMLMap).items.find((p) => (p.key as { value?: unknown } | null)?.value === path.at(-1))
      : undefined;
    const range = (pair?.key as Node | undefined)?.range;
    return range ? posOf(displayFile, lines, range[0]) : at(path);
  };

  if (typeof data !== "object" || Array.isArray(data)) {
    throw sourceError([
      formatAt(at([]), "the project file must be a mapping with a `deployments:` list", source),
    ]);
  }
  if (isLegacyDeploymentFile(data)) {
    throw sourceError([
      formatAt(
        at([]),
        `this is a Prefect 2.x deployment file (written by \`deployment build\`), not a project file: apply it with: weir deployment apply ${displayFile}`,
        source,
      ),
    ]);
  }

  const found: Findings = { errors: [], warnings: duplicateKeys(doc, lines, displayFile, source) };
  const problems = found.errors;
  // Unknown top-level keys are allowed (people keep anchors under e.g. `definitions:`), but a
  // near-miss of a known one is almost surely a typo.
  if (isMap(doc.contents)) {
    for (const pair of (doc.contents as YAMLMap).items) {
      const key = (pair.key as { value?: unknown } | null)?.value;
      if (typeof key !== "string" || TOP_LEVEL_KEYS.includes(key)) continue;
      const hint = typoOf(key, TOP_LEVEL_KEYS);
      if (hint) {
        problems.push(
          formatAt(
            posOf(displayFile, lines, (pair.key as Node).range?.[0]),
            `unknown top-level field "${key}" (did you mean "${hint}"?)`,
            source,
          ),
        );
      }
    }
  }
  emptyMappingsAsEmptyLists(data);
  /**
   * A deployment's concurrency_limit, field by field at its own position (the schema's union can
   * only say the whole value is wrong). A value found wrong here is dropped, so it is said once.
   */
  const checkConcurrencyLimit = (d: Record<string, unknown> | null, path: (string | number)[], i: number) => {
    const cl = d?.concurrency_limit;
    if (cl === undefined || cl === null) return;
    const before = found.errors.length;
    const whole = (x: unknown, field: string, where: (string | number)[]) => {
      if (Number.isInteger(x) && (x as number) >= 1) return;
      found.errors.push(
        formatAt(
          at(where),
          `${field}: must be a whole number from 1 up (got ${JSON.stringify(x)}); 0 would hold every run forever: to hold them, pause its work queue or pool`,
          source,
        ),
      );
    };
    if (typeof cl === "number") whole(cl, "concurrency_limit", path);
    else if (typeof cl === "object" && !Array.isArray(cl)) {
      const m = cl as Record<string, unknown>;
      unknownKeys(
        resolveAlias(doc, doc.getIn(path, true)),
        ["limit", "collision_strategy", "grace_period_seconds"],
        `deployment #${i + 1} concurrency_limit`,
        lines,
        displayFile,
        source,
        found,
      );
      if ("limit" in m) whole(m.limit, "concurrency_limit.limit", [...path, "limit"]);
      const cs = m.collision_strategy;
      if (cs !== undefined && cs !== "ENQUEUE" && cs !== "CANCEL_NEW") {
        const upper = typeof cs === "string" ? cs.toUpperCase().replace(/-/g, "_") : "";
        const hint = ["ENQUEUE", "CANCEL_NEW"].includes(upper) ? ` (did you mean ${upper}?)` : "";
        found.errors.push(
          formatAt(
            at([...path, "collision_strategy"]),
            `concurrency_limit.collision_strategy: must be ENQUEUE (wait for a slot) or CANCEL_NEW (cancel the new run), got ${JSON.stringify(cs)}${hint}`,
            source,
          ),
        );
      }
      const g = m.grace_period_seconds;
      if (g !== undefined && !(Number.isInteger(g) && (g as number) >= 60 && (g as number) <= 86_400))
        found.errors.push(
          formatAt(
            at([...path, "grace_period_seconds"]),
            `concurrency_limit.grace_period_seconds: must be whole seconds from 60 to 86400, as in Prefect (got ${JSON.stringify(g)})`,
            source,
          ),
        );
    }
    if (found.errors.length > before && d) d.concurrency_limit = null;
  };
  const deps = Array.isArray(data.deployments) ? data.deployments : [];
  deps.forEach((d: unknown, i: number) => {
    const node = doc.getIn(["deployments", i], true);
    unknownKeys(
      resolveAlias(doc, node),
      DEPLOYMENT_KEYS,
      `deployment #${i + 1}`,
      lines,
      displayFile,
      source,
      found,
    );
    unknownKeys(
      resolveAlias(doc, doc.getIn(["deployments", i, "work_pool"], true)),
      WORK_POOL_KEYS,
      `deployment #${i + 1} work_pool`,
      lines,
      displayFile,
      source,
      found,
    );
    emptyMappingsAsEmptyLists(d);
    checkConcurrencyLimit(d as Record<string, unknown> | null, ["deployments", i, "concurrency_limit"], i);
    // Prefect reads { collision_strategy } without a limit as no limit.
    const limit = (d as Record<string, unknown> | null)?.concurrency_limit;
    if (limit && typeof limit === "object" && !Array.isArray(limit) && !("limit" in limit)) {
      found.warnings.push(
        formatAt(
          at(["deployments", i, "concurrency_limit"]),
          "concurrency_limit has no limit, so the deployment has none (add limit: N to set one)",
          source,
        ),
      );
      (d as Record<string, unknown>).concurrency_limit = null;
    }
  });

  const parsed = v.safeParse(ProjectFile, data);
  if (!parsed.success) {
    for (const issue of parsed.issues) {
      const path = (issue.path ?? []).map((p) => p.key as string | number);
      const field =
        path
          .map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`))
          .join("")
          .replace(/^\./, "") || "(file)";
      problems.push(formatAt(at(path), `${field}: ${issueText(issue, path)}`, source));
    }
  }
  if (problems.length > 0) throw sourceError(problems);
  const file = parsed.output as ProjectFile;
  if (!file.deployments || file.deployments.length === 0) {
    throw sourceError([
      formatAt(
        at([]),
        "no deployments are defined (add a `deployments:` list with at least one entry)",
        source,
      ),
    ]);
  }
  const projectDir = dirname(path);
  const unsupported = (steps: unknown, p: (string | number)[], section: Section) =>
    checkSteps(steps, p, section, { projectDir, registry, at, keyAt, source, out: found });
  const topUnsupported = Object.fromEntries(SECTIONS.map((s) => [s, unsupported(file[s], [s], s)])) as Record<
    Section,
    string[]
  >;
  const has = (i: number, key: string) => {
    const raw = data.deployments[i];
    return raw && typeof raw === "object" && Object.hasOwn(raw, key);
  };
  const deploymentUnsupported = file.deployments.map((d, i) =>
    SECTIONS.flatMap((s) => (has(i, s) ? unsupported(d[s], ["deployments", i, s], s) : topUnsupported[s])),
  );
  const scheduleItems = file.deployments.map((d, i) => {
    try {
      return readSchedules(d, i, at, limits);
    } catch (e) {
      const err = e as Error & { pos?: SourcePos };
      problems.push(formatAt(err.pos ?? at(["deployments", i]), err.message, source));
      return undefined;
    }
  });
  // A block placeholder inside other text can never be resolved (Prefect's rule: a block is a
  // value of its own), wherever it is: refused here, before any step runs and in --dry-run too.
  for (const { path: where, text } of blockInText(
    { build: data.build, push: data.push, pull: data.pull, deployments: data.deployments },
    [],
  ))
    problems.push(
      formatAt(
        at(where),
        `${JSON.stringify(text)} holds a block placeholder inside other text: a block must be a value of its own ("{{ prefect.blocks.TYPE.NAME }}" alone, or a field of it such as .value); pass it in a field of its own (a step's env, say) and refer to that`,
        source,
      ),
    );
  // Prefect deploys a name defined twice for one flow twice, the later replacing the earlier.
  const replaced = new Set<number>();
  const names = new Map<string, number>();
  file.deployments.forEach((d, i) => {
    const key = `${d.entrypoint ?? ""}\0${d.name}`;
    const prev = names.get(key);
    if (prev !== undefined) {
      replaced.add(prev);
      found.warnings.push(
        formatAt(
          at(["deployments", i, "name"]),
          `deployment "${d.name}" is defined twice for the same entrypoint (also at line ${at(["deployments", prev]).line}); this later definition replaces the earlier one, as in Prefect (rename one to keep both)`,
          source,
        ),
      );
    }
    names.set(key, i);
  });
  if (problems.length > 0) throw sourceError(problems);

  return {
    file: path,
    displayFile,
    dir: projectDir,
    name: file.name ?? null,
    build: file.build ?? null,
    push: file.push ?? null,
    pull: file.pull ?? null,
    overrides: file.deployments.map((_, i) => ({
      build: has(i, "build"),
      push: has(i, "push"),
      pull: has(i, "pull"),
    })),
    deployments: file.deployments.map((d, i) => ({
      ...d,
      scheduleItems: scheduleItems[i],
      pos: at(["deployments", i]),
      entrypointPos: at(["deployments", i, "entrypoint"]),
      parametersPos: (name: string) => at(["deployments", i, "parameters", name]),
      jobVariablesPos: (name: string) => at(["deployments", i, "work_pool", "job_variables", name]),
      fieldPos: (path: (string | number)[]) => at(["deployments", i, ...path]),
      unsupported: deploymentUnsupported[i]!,
      replaced: replaced.has(i),
    })),
    warnings: found.warnings,
    source,
    posOf: at,
  };
}

/** `build: {}` (a mapping for a list) is an empty list to Prefect; so it is here. */
function emptyMappingsAsEmptyLists(section: unknown): void {
  if (!section || typeof section !== "object") return;
  const s = section as Record<string, unknown>;
  for (const key of SECTIONS) {
    const value = s[key];
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0)
      s[key] = [];
  }
}

function resolveAlias(doc: ReturnType<typeof parseDocument>, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

/**
 * `schedule:` (one) or `schedules:` (a list whose items add active, parameters and slug). Empty
 * values people write (`schedule: {}`, `schedule: []`, `schedule: null`, `schedules: []`, `schedules: {}`) mean "no schedules".
 */
function readSchedules(
  d: DeploymentSection,
  i: number,
  at: (path: (string | number)[]) => SourcePos,
  limits: Limits,
): ScheduleItem[] | undefined {
  const hasOne = d.schedule !== undefined;
  const hasMany = d.schedules !== undefined;
  if (hasOne && hasMany && d.schedule && d.schedules && (d.schedules as unknown[]).length) {
    throw Object.assign(new Error(`deployments[${i}]: use either schedule or schedules, not both`), {
      pos: at(["deployments", i, "schedule"]),
    });
  }
  if (!hasOne && !hasMany) return undefined;
  const raw: unknown[] = [];
  const paths: (string | number)[][] = [];
  const emptyMapping = (x: unknown) =>
    Boolean(x) && typeof x === "object" && !Array.isArray(x) && Object.keys(x as object).length === 0;
  if (hasMany && d.schedules !== null && !emptyMapping(d.schedules)) {
    if (!Array.isArray(d.schedules)) {
      throw Object.assign(new Error(`deployments[${i}].schedules: must be a list of schedules`), {
        pos: at(["deployments", i, "schedules"]),
      });
    }
    d.schedules.forEach((item, j) => {
      raw.push(item);
      paths.push(["deployments", i, "schedules", j]);
    });
  } else if (Array.isArray(d.schedule) && d.schedule.length > 0) {
    throw Object.assign(
      new Error(`deployments[${i}].schedule: takes one schedule; list several under schedules: instead`),
      { pos: at(["deployments", i, "schedule"]) },
    );
  } else if (hasOne && d.schedule !== null && !emptyMapping(d.schedule) && !Array.isArray(d.schedule)) {
    raw.push(d.schedule);
    paths.push(["deployments", i, "schedule"]);
  }
  return raw.map((item, j) => {
    const path = paths[j]!;
    const field = path
      .map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`))
      .join("")
      .slice(1);
    try {
      if (!item || typeof item !== "object" || Array.isArray(item))
        throw new Error(`${field}: must be a mapping such as { cron: "0 9 * * *" }`);
      // max_active_runs and catchup (per schedule) are Prefect 3's: at most that many of the
      // schedule's runs active at once, and whether its late runs are caught up (false: none are;
      // unset: the deployment's `catchup: all | latest | none`).
      const { active, parameters, slug, max_active_runs, catchup, ...spec } = item as Record<string, unknown>;
      if (
        max_active_runs !== undefined &&
        max_active_runs !== null &&
        !(Number.isInteger(max_active_runs) && (max_active_runs as number) >= 1)
      )
        throw Object.assign(
          new Error(
            `${field}.max_active_runs: must be a whole number from 1 up (got ${JSON.stringify(max_active_runs)})`,
          ),
          { pos: at([...path, "max_active_runs"]) },
        );
      if (catchup !== undefined && catchup !== null && typeof catchup !== "boolean")
        throw Object.assign(
          new Error(`${field}.catchup: must be true or false (got ${JSON.stringify(catchup)})`),
          {
            pos: at([...path, "catchup"]),
          },
        );
      if (active !== undefined && typeof active !== "boolean")
        throw new Error(`${field}.active: must be true or false`);
      if (
        parameters !== undefined &&
        (typeof parameters !== "object" || parameters === null || Array.isArray(parameters))
      ) {
        throw new Error(`${field}.parameters: must be a mapping of parameter names to values`);
      }
      if (slug !== undefined && slug !== null && typeof slug !== "string")
        throw new Error(`${field}.slug: must be a string`);
      const compiled = compileSchedule(spec, field, { minIntervalSeconds: limits.minIntervalSeconds });
      assertDeployable(compiled, field);
      return {
        schedule: scheduleSpec(compiled) as Record<string, unknown>,
        active: active as boolean | undefined,
        parameters: parameters as Record<string, unknown> | undefined,
        slug: (slug as string | null | undefined) ?? null,
        max_active_runs: (max_active_runs as number | null | undefined) ?? null,
        catchup: (catchup as boolean | null | undefined) ?? null,
      };
    } catch (e) {
      throw Object.assign(new Error((e as Error).message), { pos: (e as { pos?: unknown }).pos ?? at(path) });
    }
  });
}

const KINDS: Record<string, string> = {
  Object: "a mapping (key: value lines, or { key: value })",
  Array: "a list (- item lines, or [a, b])",
  string: "text",
  number: "a number",
  boolean: "true or false",
};

/**
 * A schema issue in the words of a YAML file: "must be a mapping (got the text "local")" rather
 * than valibot's "Invalid type: Expected Object but received "local"", with the usual shape of
 * the fields people get wrong most.
 */
function issueText(issue: v.BaseIssue<unknown>, path: (string | number)[]): string {
  const expected = issue.expected ?? "";
  if (issue.kind !== "schema" || !issue.message.startsWith("Invalid type")) return issue.message;
  const want = expected
    .split(" | ")
    .map((e) => KINDS[e] ?? e)
    .join(" or ");
  const got =
    typeof issue.input === "string"
      ? `the text ${JSON.stringify(issue.input)}`
      : Array.isArray(issue.input)
        ? "a list"
        : issue.input === null || issue.input === undefined
          ? "nothing"
          : typeof issue.input === "object"
            ? "a mapping"
            : `${typeof issue.input} ${String(issue.input)}`;
  const example =
    path.at(-1) === "work_pool"
      ? ", such as work_pool: { name: local }"
      : path.at(-1) === "schedules"
        ? ', such as schedules: [{ cron: "0 9 * * *" }]'
        : "";
  return `must be ${want}${example} (got ${got})`;
}
