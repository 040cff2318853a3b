import { isAbsolute, relative, resolve, sep } from "node:path";
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import type { WeirClient } from "../client/index.ts";
import { loadFlow, makeResolver, parseEntrypoint, TS_LIKE } from "../engine/index.ts";
import {
  jobVariableProblems,
  mergeJobVariables,
  templateDefaults,
  templateOf,
  withRuleMessage,
} from "../infra/index.ts";
import {
  type Deployment,
  describeError,
  didYouMean,
  firstFreePriority,
  parameterProblems,
  WeirError,
  type WorkPool,
} from "../model/index.ts";
import type { Registry } from "../plugin/index.ts";
import { runlessNote } from "../schedules/index.ts";
import type { Flow } from "../sdk/flow.ts";
import { consoleLogger } from "../sdk/logger.ts";
import { type ProgressSink, runSteps, type StepsOptions } from "../steps/index.ts";
import {
  applyValues,
  blockInText,
  placeholders,
  resolveVariables,
  valuePlaces,
} from "../templating/index.ts";
import type { DeploymentSpec, Project } from "./load-project.ts";
import { selectDeployments } from "./select.ts";
import { formatAt } from "./source-error.ts";

/** Deploy-time flags that override the file (the CLI layer of the config). */
export interface DeployOverlay {
  description?: string;
  version?: string;
  tags?: string[];
  pool?: string;
  queue?: string;
  jobVariables?: Record<string, unknown>;
  parameters?: Record<string, unknown>;
  enforceParameterSchema?: boolean;
  /** From --cron/--interval/--rrule: replaces the file's schedules. */
  schedule?: Record<string, unknown>;
}

export interface PlannedDeployment {
  spec: DeploymentSpec;
  index: number;
  name: string;
  flowName: string | null;
  flow: Flow | null;
  /**
   * Why this deployment cannot be deployed, each message positioned in the file (the other
   * deployments still go ahead): its entrypoint does not load, a step needs a plugin this build
   * lacks, a default parameter the flow would refuse.
   */
  problems: string[];
}

export interface DeployOutcome {
  name: string;
  ok: boolean;
  deployment?: Deployment;
  created?: boolean;
  error?: string;
  notes: string[];
}

/**
 * Loads each deployment's flow (for its name and parameter schema), checks what can be checked
 * before any step runs, and applies the selection. A deployment replaced by a later one of the
 * same name is left out, as Prefect deploys only the later.
 */
export async function planDeployments(
  project: Project,
  names: string[],
  all: boolean,
  overlay: DeployOverlay = {},
  /** Flows the caller holds already, by entrypoint (deploy() in code): not imported again. */
  known?: ReadonlyMap<string, Flow>,
): Promise<PlannedDeployment[]> {
  const planned: PlannedDeployment[] = [];
  for (const [index, spec] of project.deployments.entries()) {
    if (spec.replaced) continue;
    let flow: Flow | null = null;
    const problems: string[] = [];
    if (!spec.entrypoint) {
      problems.push(
        formatAt(
          spec.pos,
          `deployment "${spec.name}" has no entrypoint (add entrypoint: path/file.ts:flowName)`,
          project.source,
        ),
      );
    } else if (
      TS_LIKE.test(parseEntrypoint(spec.entrypoint).file) &&
      leavesFolder(spec.entrypoint, project.dir)
    ) {
      // A run imports its entrypoint from the folder its pull steps set and refuses one that
      // leaves it: every run of this deployment would fail.
      problems.push(
        formatAt(
          spec.entrypointPos,
          `deployment "${spec.name}": entrypoint ${spec.entrypoint} is outside the project folder ${project.dir}; a run imports it from the folder its pull steps set and refuses a path that leaves it (move the flow into the project, or keep weir.yaml in a folder that holds it)`,
          project.source,
        ),
      );
    } else {
      try {
        flow = known?.get(spec.entrypoint) ?? (await loadFlow(spec.entrypoint, project.dir));
      } catch (err) {
        problems.push(
          formatAt(spec.entrypointPos, `deployment "${spec.name}": ${describeError(err)}`, project.source),
        );
      }
    }
    if (flow && spec.flow_name && spec.flow_name !== flow.options.name) {
      problems.push(
        formatAt(
          spec.entrypointPos,
          `deployment "${spec.name}": flow_name "${spec.flow_name}" does not match the flow "${flow.options.name}" that ${spec.entrypoint} exports (fix flow_name, or remove it)`,
          project.source,
        ),
      );
    }
    problems.push(...spec.unsupported);
    const p = { spec, index, name: spec.name, flowName: flow?.options.name ?? null, flow, problems };
    // Placeholders are resolved only by a real deploy, which checks their values then.
    problems.push(
      ...defaultParameterProblems(project, p, overlay, { ...spec.parameters, ...overlay.parameters }),
    );
    planned.push(p);
  }
  return selectDeployments(planned, names, all, project.displayFile);
}

/** Required flow parameters the deployment gives no default for: every run must pass them. */
function missingRequiredNotes(p: PlannedDeployment, defaults: Record<string, unknown>): string[] {
  const schema = p.flow ? parameterSchema(p.flow) : null;
  const required = ((schema?.required as string[] | undefined) ?? []).filter((n) => !(n in defaults));
  return required.length
    ? [
        `the flow requires ${required.map((n) => `"${n}"`).join(", ")} and the deployment gives no default: every run must pass ${required.length > 1 ? "them" : "it"} (--param ${required[0]}=...)`,
      ]
    : [];
}

/**
 * A problem found after the file was read (the pool missing, the server refusing a field) placed
 * in the file: at the field the server named when the file has it, else at the deployment. One
 * already placed, or about something a flag gave, is left as it is.
 */
function placed(project: Project, p: PlannedDeployment, overlay: DeployOverlay, message: string): string {
  if (/^\S+:\d+:\d+: /.test(message) || !project.source) return message;
  if (/^work pool "[^"]+" does not exist/.test(message))
    return overlay.pool
      ? `--pool ${overlay.pool}: ${message}`
      : formatAt(
          p.spec.fieldPos(["work_pool", "name"]),
          `deployment "${p.name}": ${message}`,
          project.source,
        );
  // The API names the field of the request it refuses: "Invalid request body: tags.1: ...".
  const field = /^Invalid request body: ([\w.]+): /.exec(message)?.[1];
  const path = field?.split(".").map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  return formatAt(
    path ? p.spec.fieldPos(path) : p.spec.pos,
    `deployment "${p.name}": ${message}`,
    project.source,
  );
}

/**
 * `{{ name }}` placeholders in a deployment's fields that name no output of a build or push step:
 * they are left out (Prefect's rule), which a typo makes silent. Said, with the near name; a
 * misspelt `prefect.variables` / `prefect.blocks` namespace is named too.
 */
function unknownOutputNotes(
  fields: Record<string, unknown>,
  outputs: Record<string, unknown>,
  where: (path: (string | number)[]) => string | undefined,
): string[] {
  const notes: string[] = [];
  const ids = Object.keys(outputs).filter((k) => outputs[k] && typeof outputs[k] === "object");
  const said = new Set<string>();
  for (const { path, name } of valuePlaces(fields)) {
    const [root, second] = name.split(/[.[]/);
    if (said.has(name)) continue;
    if (root! in outputs) {
      // The step is there, the field not (stdot for stdout): its value would be left out too.
      const out = outputs[root!];
      if (second && out && typeof out === "object" && !Array.isArray(out) && !(second in out)) {
        said.add(name);
        const at = where(path);
        const fieldsOf = Object.keys(out);
        const near = didYouMean(second, fieldsOf);
        notes.push(
          `${at ? `${at}: ` : ""}{{ ${name} }}: step ${root} has no output "${second}" (it has: ${fieldsOf.join(", ")}); it is left out${near ? ` (did you mean {{ ${root}.${near} }}?)` : ""}`,
        );
      }
      continue;
    }
    said.add(name);
    const at = where(path);
    const space =
      (root === "prefect" || root === "weir") && second
        ? didYouMean(second, ["variables", "blocks"])
        : undefined;
    const near = space
      ? `${root}.${space}${name.slice(root!.length + 1 + second!.length)}`
      : didYouMean(root!, ids);
    notes.push(
      `${at ? `${at}: ` : ""}{{ ${name} }} names no output of a build or push step${ids.length ? ` (there are: ${ids.join(", ")})` : ""}; it is left out${near ? ` (did you mean {{ ${space ? near : name.replace(root!, near)} }}?)` : ""}`,
    );
  }
  return notes;
}

/** The path to the first string in `value` that holds one of `secrets`, or null. */
function secretPlace(
  value: unknown,
  secrets: readonly string[],
  path: (string | number)[] = [],
): (string | number)[] | null {
  const present = secrets.filter((s) => s.length >= 3);
  if (present.length === 0) return null;
  if (typeof value === "string") return present.some((s) => value.includes(s)) ? path : null;
  if (Array.isArray(value)) {
    for (const [i, x] of value.entries()) {
      const found = secretPlace(x, present, [...path, i]);
      if (found) return found;
    }
  } else if (value && typeof value === "object")
    for (const [k, x] of Object.entries(value)) {
      const found = secretPlace(x, present, [...path, k]);
      if (found) return found;
    }
  return null;
}

/** Where a field of the API body is written in the file (job variables under work_pool, pull as pull). */
function storedPath(path: (string | number)[]): (string | number)[] {
  if (path[0] === "job_variables") return ["work_pool", ...path];
  if (path[0] === "pull_steps") return ["pull", ...path.slice(1)];
  return path;
}

/** The names of `{{ $NAME }}` placeholders in a value that `env` does not set. */
function unsetEnv(x: unknown, env: Record<string, string | undefined>): Set<string> {
  const names = valuePlaces(x, "env").map((p) => p.name.slice(1));
  return new Set(names.filter((name) => env[name] === undefined));
}

/** The job variable defaults of a pool's template. */
function poolDefaults(pool: WorkPool, registry: Registry): Record<string, unknown> {
  const infra = registry.infrastructure(pool.type);
  return infra ? templateDefaults(templateOf(pool, infra)) : {};
}

/** Whether an entrypoint's file is absolute or climbs out of `dir` (`../src/f.ts:f`). */
function leavesFolder(entrypoint: string, dir: string): boolean {
  const { file } = parseEntrypoint(entrypoint);
  if (isAbsolute(file)) return true;
  const rel = relative(dir, resolve(dir, file));
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

/**
 * A queue the pool does not have is created by the deploy (as Prefect does), with the first free
 * priority: said out loud, with the near name, since a typo would otherwise jump the line quietly.
 */
function newQueueNotes(pool: WorkPool, queue: string): string[] {
  if (pool.queues.some((q) => q.name === queue)) return [];
  const priority = firstFreePriority(pool.queues.map((q) => q.priority));
  const near = didYouMean(
    queue,
    pool.queues.map((q) => q.name),
  );
  const behind = pool.queues.filter((q) => q.priority >= priority).map((q) => `"${q.name}"`);
  return [
    `work queue "${queue}" does not exist in pool "${pool.name}": it is created with priority ${priority}${behind.length ? `, served before ${behind.join(", ")}` : ""}${near ? ` (did you mean "${near}"?)` : ""}; change it with: weir work-queue update ${queue} --pool ${pool.name} --priority N`,
  ];
}

/** Blocks the pull steps name that do not exist yet: runs will fail until they are created. */
async function missingBlockNotes(
  client: WeirClient,
  pull: unknown[],
  jobVariables: unknown,
  parameters: unknown = {},
): Promise<string[]> {
  const refs = new Set<string>();
  const walk = (x: unknown) => {
    if (typeof x === "string")
      for (const m of x.matchAll(/\{\{\s*(?:weir|prefect)\.blocks\.([\w-]+)\.([\w-]+)/g))
        refs.add(`${m[1]}/${m[2]}`);
    else if (x && typeof x === "object") for (const y of Object.values(x)) walk(y);
  };
  walk(pull);
  const inPull = new Set(refs);
  walk(jobVariables);
  const inJob = new Set(refs);
  walk(parameters);
  const notes: string[] = [];
  for (const ref of refs) {
    const [type, name] = ref.split("/") as [string, string];
    if (!(await client.findBlock(type, name).catch(() => undefined)))
      notes.push(
        `${inPull.has(ref) ? "pull steps use" : inJob.has(ref) ? "job variables use" : "parameters use"} block ${ref}, which does not exist yet: runs will fail until it is created (weir block create ${type} ${name} ...)`,
      );
  }
  return notes;
}

const hasPlaceholder = (value: unknown): boolean =>
  typeof value === "string"
    ? value.includes("{{")
    : value !== null && typeof value === "object" && Object.values(value).some(hasPlaceholder);

/**
 * Default parameters the flow's schema would refuse on every run, each at its place in the file
 * (or naming --param when the flag gave it). Values still holding a placeholder are skipped.
 */
function defaultParameterProblems(
  project: Project,
  p: PlannedDeployment,
  overlay: DeployOverlay,
  parameters: Record<string, unknown>,
): string[] {
  if (!p.flow || (overlay.enforceParameterSchema ?? p.spec.enforce_parameter_schema) === false) return [];
  // A Date cannot come in JSON: every run would be refused by the flow's own check.
  const dates = p.flow.options.params ? datePaths(p.flow.options.params) : [];
  if (dates.length)
    return [
      formatAt(
        p.spec.pos,
        `deployment "${p.name}": parameter "${dates[0]}" of flow "${p.flow.options.name}" is a Date (v.date()), and runs get their parameters as JSON, which has no dates: every run would be refused; take v.pipe(v.string(), v.isoTimestamp()) and make the Date in the flow`,
        project.source,
      ),
    ];
  const known = Object.fromEntries(Object.entries(parameters).filter(([, value]) => !hasPlaceholder(value)));
  return parameterProblems(parameterSchema(p.flow), known, { partial: true }).map((problem) => {
    const name = problem.parameter;
    const fix = `fix the default to what the flow "${p.flow!.options.name}" takes`;
    if (name !== null && overlay.parameters && Object.hasOwn(overlay.parameters, name))
      return `--param ${name}: ${problem.message}`;
    const pos = name !== null ? p.spec.parametersPos(name) : p.spec.pos;
    return formatAt(pos, `deployment "${p.name}": ${problem.message} (${fix})`, project.source);
  });
}

/**
 * Job variables the pool's template refuses, each at its place in the file (or naming
 * --job-variable), and notes for required ones every run must then give. A pool that does not
 * exist yet is left to the server, which says how to create it.
 */
function jobVariableProblemsAt(
  project: Project,
  p: PlannedDeployment,
  overlay: DeployOverlay,
  pool: WorkPool | undefined,
  vars: Record<string, unknown>,
  registry: Registry,
): { errors: string[]; notes: string[] } {
  const infra = pool && registry.infrastructure(pool.type);
  if (!pool || !infra) return { errors: [], notes: [] };
  const template = templateOf(pool, infra);
  const where = `work pool "${pool.name}" (${pool.type})`;
  const errors = jobVariableProblems(template, vars, { partial: true }).map((problem) => {
    const name = problem.parameter;
    if (name !== null && overlay.jobVariables && Object.hasOwn(overlay.jobVariables, name))
      return `--job-variable ${name}: ${problem.message} (${where})`;
    const pos = name !== null ? p.spec.jobVariablesPos(name) : p.spec.pos;
    return formatAt(pos, `deployment "${p.name}": ${problem.message} in ${where}`, project.source);
  });
  const missing = jobVariableProblems(template, vars).filter((x) => x.message.startsWith("missing required"));
  const notes = missing.map(
    (m) =>
      `${where} requires job variable "${m.parameter}" and the deployment gives none: every run must pass it (--job-variable ${m.parameter}=...)`,
  );
  return { errors, notes };
}

/** The paths of the v.date() values a run must give (through objects and arrays; not optional, not in unions). */
function datePaths(schema: unknown, path = "", depth = 0): string[] {
  const s = schema as {
    type?: string;
    entries?: Record<string, unknown>;
    wrapped?: unknown;
    item?: unknown;
    options?: unknown[];
  };
  if (!s || typeof s !== "object" || depth > 20) return [];
  if (s.type === "date") return [path || "(the parameters)"];
  const out: string[] = [];
  if (s.entries)
    for (const [k, x] of Object.entries(s.entries))
      out.push(...datePaths(x, path ? `${path}.${k}` : k, depth + 1));
  // Only where a run must give a Date: an optional one may be left out (the flow defaults it),
  // and a union may take its other options.
  if (s.item) out.push(...datePaths(s.item, `${path}[]`, depth + 1));
  return out;
}

export function parameterSchema(flow: Flow): Record<string, unknown> | null {
  if (!flow.options.params) return null;
  const schema = toJsonSchema(flow.options.params as v.GenericSchema, {
    errorMode: "ignore",
    overrideAction: withRuleMessage,
  }) as Record<string, unknown>;
  delete schema.$schema;
  return { title: "Parameters", ...schema };
}

/** The API body for one deployment: file values, then CLI overlay, then what the flow provides. */
export function deploymentBody(
  project: Project,
  p: PlannedDeployment,
  overlay: DeployOverlay,
  pullSteps: unknown[],
): Record<string, unknown> {
  const { spec, flow } = p;
  const pool = overlay.pool ?? spec.work_pool?.name ?? null;
  return {
    // Without a flow (a dry run of a deployment that cannot load it) the file's flow_name stands in.
    flow_name: flow?.options.name ?? spec.flow_name ?? null,
    name: spec.name,
    version:
      overlay.version ?? (spec.version != null ? String(spec.version) : (flow?.options.version ?? null)),
    description: overlay.description ?? spec.description ?? flow?.options.description ?? null,
    tags: [...new Set([...(spec.tags ?? []), ...(overlay.tags ?? [])])],
    entrypoint: spec.entrypoint,
    path: project.dir,
    parameters: { ...spec.parameters, ...overlay.parameters },
    parameter_openapi_schema: flow ? parameterSchema(flow) : null,
    enforce_parameter_schema: overlay.enforceParameterSchema ?? spec.enforce_parameter_schema ?? true,
    // Absent from the file: the deployment stays paused or not, as it is (weir deployment pause).
    ...(spec.paused != null ? { paused: spec.paused } : {}),
    work_pool_name: pool,
    work_queue_name:
      overlay.queue ?? spec.work_pool?.work_queue_name ?? spec.work_queue_name ?? (pool ? "default" : null),
    ...(spec.is_schedule_active != null ? { is_schedule_active: spec.is_schedule_active } : {}),
    job_variables: { ...spec.work_pool?.job_variables, ...overlay.jobVariables },
    pull_steps: pullSteps,
    // Absent from the file (and no flag): the deployment keeps the schedules it has.
    ...(overlay.schedule
      ? { schedules: [{ schedule: overlay.schedule }] }
      : spec.scheduleItems
        ? { schedules: spec.scheduleItems }
        : {}),
    ...(spec.catchup ? { catchup: spec.catchup } : {}),
    triggers: spec.triggers ?? null,
    concurrency_limit:
      spec.concurrency_limit == null
        ? null
        : typeof spec.concurrency_limit === "number"
          ? { limit: spec.concurrency_limit, collision_strategy: "ENQUEUE" }
          : {
              limit: spec.concurrency_limit.limit,
              collision_strategy: spec.concurrency_limit.collision_strategy ?? "ENQUEUE",
            },
  };
}

/**
 * Deploys one planned deployment: build and push steps, then one upsert through the API (a
 * single transaction server-side, so a failure leaves the deployment as it was).
 */
export async function deployOne(
  client: WeirClient,
  project: Project,
  p: PlannedDeployment,
  overlay: DeployOverlay,
  run: {
    signal: AbortSignal;
    registry: Registry;
    env: Record<string, string | undefined>;
    progress?: ProgressSink;
  },
): Promise<DeployOutcome> {
  const label = p.flowName ? `${p.flowName}/${p.name}` : p.name;
  const notes: string[] = [];
  try {
    if (p.problems.length) throw new WeirError("INVALID", p.problems.join("\n"));
    // The pool first: a missing one, or job variables it refuses, fail the deployment before
    // any image is built or code uploaded (values from step outputs are checked once known).
    const poolName = overlay.pool ?? p.spec.work_pool?.name ?? null;
    const rawJobVariables = { ...p.spec.work_pool?.job_variables, ...overlay.jobVariables };
    let pool: WorkPool | undefined;
    if (poolName) {
      try {
        pool = await client.getWorkPool(poolName);
      } catch (err) {
        if (!(err instanceof WeirError && err.code === "NOT_FOUND")) throw err;
        throw new WeirError(
          "NOT_FOUND",
          `work pool "${poolName}" does not exist (create it with: weir work-pool create ${poolName} --type ${run.registry.poolTypeFor(rawJobVariables)})`,
        );
      }
      const early = jobVariableProblemsAt(project, p, overlay, pool, rawJobVariables, run.registry);
      if (early.errors.length) throw new WeirError("INVALID", early.errors.join("\n"));
    }
    // A block placeholder inside text cannot be resolved anywhere: refused at its place before
    // any step runs (it failed only after the build and push).
    const spec = p.spec as unknown as Record<string, unknown>;
    const [inText] = blockInText({
      version: spec.version,
      description: spec.description,
      tags: spec.tags,
      parameters: spec.parameters,
      work_pool: {
        job_variables: (spec.work_pool as { job_variables?: unknown } | undefined)?.job_variables,
      },
    });
    if (inText)
      throw new WeirError(
        "INVALID",
        formatAt(
          p.spec.fieldPos(inText.path),
          `deployment "${p.name}": ${JSON.stringify(inText.text)} holds a block placeholder inside other text: a block must be a value of its own (Prefect's rule: "{{ prefect.blocks.TYPE.NAME }}" alone, or a field of it such as .value); put the text in another field`,
          project.source,
        ),
      );
    const ov = project.overrides[p.index]!;
    const build = ov.build ? (p.spec.build ?? []) : (project.build ?? []);
    const push = ov.push ? (p.spec.push ?? []) : (project.push ?? []);
    const secrets: string[] = [];
    const resolve = makeResolver(client, secrets, run.registry);
    const ctx: StepsOptions = {
      registry: run.registry,
      env: run.env,
      cwd: project.dir,
      log: consoleLogger,
      signal: run.signal,
      secrets,
      progress: run.progress,
      resolve: (k: Record<string, unknown>, o: Record<string, unknown>) => resolve(k, o),
    };
    const cwd = process.cwd();
    let outputs: Record<string, unknown> = {};
    let section: "build" | "push" = "build";
    const stepPath = (i: number) => (ov[section] ? ["deployments", p.index, section, i] : [section, i]);
    ctx.at = (i) => {
      if (!project.posOf) return undefined;
      const pos = project.posOf(stepPath(i));
      return `${pos.file}:${pos.line}:${pos.col}`;
    };
    try {
      process.chdir(project.dir);
      if (build.length) outputs = await runSteps(build, ctx, outputs);
      section = "push";
      if (push.length) outputs = await runSteps(push, ctx, outputs);
    } catch (err) {
      // A step that failed is placed at the step, in the deployment or at the top of the file.
      const step = err instanceof WeirError ? err.fields.step : undefined;
      if (typeof step !== "number" || !project.source || !project.posOf) throw err;
      throw new WeirError(
        err instanceof WeirError ? err.code : "FAILED",
        formatAt(
          project.posOf(stepPath(step)),
          `deployment "${p.name}": ${describeError(err)}`,
          project.source,
        ),
        { cause: err },
      );
    } finally {
      process.chdir(cwd);
    }
    let pull = ov.pull ? p.spec.pull : project.pull;
    // Prefect treats an empty list as none given (`pull or default`). Weir keeps `pull: []` to
    // mean "start in working_dir" when a working_dir job variable is set; otherwise a run would
    // start in an empty folder of its own, where no entrypoint is.
    if (
      Array.isArray(pull) &&
      pull.length === 0 &&
      (!pool || pool.type === "process") &&
      !(rawJobVariables.working_dir ?? (pool ? poolDefaults(pool, run.registry).working_dir : undefined))
    )
      pull = null;
    if ((pull === null || pull === undefined) && pool && pool.type !== "process") {
      // A container has its own files: this folder is not there, the image's working directory is.
      pull = [];
      notes.push(`no pull steps defined: runs start in the image's working directory (${pool.type} pool)`);
    } else if (pull === null || pull === undefined) {
      pull = [{ "weir.steps.set_working_directory": { directory: project.dir } }];
      notes.push(`no pull steps defined: runs will start in ${project.dir}`);
    }
    const infra = pool ? run.registry.infrastructure(pool.type) : undefined;
    if (pool && infra?.deployNotes)
      notes.push(
        ...infra.deployNotes({
          jobVariables: mergeJobVariables(templateDefaults(templateOf(pool, infra)), rawJobVariables),
          pullSteps: pull,
        }),
      );
    // Build and push outputs go into the pull steps now; blocks, variables and $ENV in them are
    // resolved on every run, where they are used.
    const storedPull = applyValues(pull, outputs, { removeNotSet: false, env: false }) as unknown[];
    const { pull_steps: _unused, job_variables, ...fields } = deploymentBody(project, p, overlay, storedPull);
    notes.push(
      ...unknownOutputNotes({ ...fields, job_variables }, outputs, (path) => {
        if (!project.posOf) return undefined;
        const pos = p.spec.fieldPos(storedPath(path));
        return `${pos.file}:${pos.line}:${pos.col}`;
      }),
    );
    const items = (fields as { schedules?: { schedule: unknown }[] }).schedules ?? [];
    for (const [i, item] of items.entries()) {
      const note = runlessNote(item.schedule);
      if (note) notes.push(`schedule ${i + 1} ${note}`);
    }
    // Step outputs and variables are applied now; block placeholders stay for the machine that
    // runs the flow (see below).
    const noVariable = new Set<string>();
    const keepBlocks = async (x: unknown) =>
      resolveVariables(applyValues(x, outputs, { removeNotSet: true }), async (name) => {
        const found = await client.findVariable(name);
        if (!found) noVariable.add(name);
        return found?.value;
      });
    // Job variables keep their block placeholders: the agent resolves them when a run starts, so
    // a registry password or a secret env value is never stored with the deployment.
    const storedJobVariables = await keepBlocks(job_variables);
    // Parameters too keep their block placeholders (a secret in a default parameter), the
    // deployment's and each schedule's: the flow's engine resolves them on the agent when the run
    // starts, so no API or page ever shows the value.
    const {
      parameters: rawParameters,
      schedules: rawSchedules,
      ...rest
    } = fields as typeof fields & { parameters?: unknown; schedules?: Record<string, unknown>[] };
    const body = {
      ...(await resolve(rest, outputs)),
      ...(rawParameters === undefined ? {} : { parameters: await keepBlocks(rawParameters) }),
      ...(rawSchedules === undefined
        ? {}
        : {
            schedules: await Promise.all(
              rawSchedules.map(async ({ parameters, ...item }) => ({
                ...(await resolve(item, outputs)),
                ...(parameters === undefined ? {} : { parameters: await keepBlocks(parameters) }),
              })),
            ),
          }),
      job_variables: storedJobVariables,
      pull_steps: storedPull,
    };
    // Anything else holding a secret (a secret block in a description or tag, a step output that
    // carries one) would be stored and shown in clear: refused, at its place.
    // The fields a file writes (not names, paths or the flow's schema, where a short secret such
    // as "prod" would match by chance), and secrets long enough not to match ordinary words.
    const stored = body as Record<string, unknown>;
    const leak = secretPlace(
      {
        version: stored.version,
        description: stored.description,
        tags: stored.tags,
        parameters: body.parameters,
        schedules: body.schedules,
        job_variables: body.job_variables,
        pull_steps: body.pull_steps,
      },
      secrets.filter((x) => x.length >= 6),
    );
    if (leak)
      throw new WeirError(
        "INVALID",
        formatAt(
          p.spec.fieldPos(storedPath(leak)),
          `deployment "${p.name}": ${leak.join(".")} would store a secret in clear (a secret block's value, or a step output that holds one): write the block placeholder itself ({{ weir.blocks.TYPE.NAME }}) in parameters, job_variables or pull steps, where it stays a placeholder until a run starts, or leave the secret out`,
          project.source,
        ),
      );
    // Variables and environment variables that are not there become "" (Prefect's rule): said.
    for (const name of noVariable)
      notes.push(
        `{{ weir.variables.${name} }} names no variable: it is stored as "" (create it first: weir variable set ${name} VALUE)`,
      );
    for (const name of unsetEnv({ ...fields, job_variables }, run.env))
      notes.push(`{{ $${name} }}: ${name} is not set in this environment: it is stored as ""`);
    const resolved = (body as { parameters?: Record<string, unknown> }).parameters ?? {};
    const wrong = defaultParameterProblems(project, p, overlay, resolved);
    if (wrong.length) throw new WeirError("INVALID", wrong.join("\n"));
    notes.push(
      ...missingRequiredNotes(p, resolved),
      ...(await missingBlockNotes(client, storedPull, storedJobVariables, [
        resolved,
        ...((body as { schedules?: { parameters?: unknown }[] }).schedules ?? []).map((x) => x.parameters),
      ])),
    );
    const checked = jobVariableProblemsAt(
      project,
      p,
      overlay,
      pool,
      storedJobVariables as Record<string, unknown>,
      run.registry,
    );
    if (checked.errors.length) throw new WeirError("INVALID", checked.errors.join("\n"));
    notes.push(...checked.notes);
    const queue = (body as { work_queue_name?: unknown }).work_queue_name;
    const { deployment, created } = await client.upsertDeployment(body);
    // Said once it is so: the deploy made the queue.
    if (pool && typeof queue === "string") notes.push(...newQueueNotes(pool, queue));
    return { name: label, ok: true, deployment, created, notes };
  } catch (err) {
    if (err instanceof WeirError && err.code === "UNREACHABLE") throw err;
    return { name: label, ok: false, error: placed(project, p, overlay, describeError(err)), notes };
  }
}
