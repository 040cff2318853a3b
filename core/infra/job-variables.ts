import { type JsonSchema, type OverrideActionContext, toJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import { didYouMean, type ParameterProblem, parameterProblems, WeirError } from "../model/index.ts";
import { applyValues } from "../templating/index.ts";
import type { Infrastructure } from "./infrastructure.ts";

// A work pool's base job template (Prefect's shape): `variables`, a JSON Schema of what
// deployments and runs may set, and `job_configuration`, what the infrastructure is given, with
// {{ variable }} placeholders. A run's job configuration = the template's defaults ← the
// deployment's job_variables ← the run's, placed into job_configuration.

export interface BaseJobTemplate {
  job_configuration: Record<string, unknown>;
  variables: Record<string, unknown> & { properties?: Record<string, Record<string, unknown>> };
}

/** A job variable's schema with the title and description the pool's template shows. */
export function variable<S extends v.GenericSchema>(schema: S, title: string, description: string) {
  return v.pipe(schema, v.title(title), v.description(description));
}

/** Job variables every kind of infrastructure takes (Prefect's BaseJobConfiguration). */
export const nameVariable = variable(
  v.optional(v.nullable(v.string())),
  "Name",
  "Name given to the infrastructure the run starts on.",
);
export const envVariable = variable(
  v.optional(v.record(v.string(), v.nullable(v.union([v.string(), v.number(), v.boolean()]))), {}),
  "Environment Variables",
  "Environment variables the flow run gets; a null value unsets one.",
);
export const labelsVariable = variable(
  v.optional(v.record(v.string(), v.string()), {}),
  "Labels",
  "Labels given to the infrastructure the run starts on.",
);

/** The template a pool of this type starts with: every variable maps to the field of its name. */
export function defaultBaseJobTemplate(infra: Infrastructure): BaseJobTemplate {
  const variables = toJsonSchema(infra.jobVariables, {
    errorMode: "ignore",
    overrideAction: withRuleMessage,
  }) as BaseJobTemplate["variables"];
  delete variables.$schema;
  if (Array.isArray(variables.required) && variables.required.length === 0) delete variables.required;
  const fields = Object.keys(infra.jobVariables.entries);
  return {
    job_configuration: Object.fromEntries(fields.map((f) => [f, `{{ ${f} }}`])),
    variables,
  };
}

/**
 * Keeps a pattern's own message beside it in the JSON Schema (`x-weir-message`), so a value that
 * breaks it is told the rule in words ("must be a size such as 128m"), not the regular expression.
 */
export function withRuleMessage(context: OverrideActionContext): JsonSchema | undefined {
  const action = context.valibotAction as { type: string; message?: unknown };
  if (action.type === "regex" && typeof action.message === "string")
    return { ...context.jsonSchema, "x-weir-message": action.message } as JsonSchema;
  return undefined;
}

/** A pool's template, or its type's default when the pool has none (pools made before templates). */
export function templateOf(
  pool: { base_job_template: Record<string, unknown> },
  infra: Infrastructure,
): BaseJobTemplate {
  const t = pool.base_job_template as Partial<BaseJobTemplate>;
  return t && typeof t === "object" && t.job_configuration && t.variables
    ? (t as BaseJobTemplate)
    : defaultBaseJobTemplate(infra);
}

/**
 * What is wrong with a base job template given for a pool of this type: its shape, and
 * job_configuration fields the infrastructure does not have.
 */
export function baseJobTemplateProblems(template: unknown, infra: Infrastructure): string[] {
  if (!template || typeof template !== "object" || Array.isArray(template))
    return ["a base job template must be an object with job_configuration and variables"];
  const t = template as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(t))
    if (key !== "job_configuration" && key !== "variables")
      problems.push(`unknown field "${key}" (a base job template has job_configuration and variables)`);
  const isObject = (x: unknown) => !!x && typeof x === "object" && !Array.isArray(x);
  if (!isObject(t.job_configuration)) problems.push("job_configuration must be an object");
  if (!isObject(t.variables)) problems.push("variables must be an object (a JSON Schema)");
  else {
    const vars = t.variables as Record<string, unknown>;
    if (vars.type !== undefined && vars.type !== "object")
      problems.push(`variables.type must be "object" (got ${JSON.stringify(vars.type)})`);
    if (vars.properties !== undefined && !isObject(vars.properties))
      problems.push("variables.properties must be an object of JSON Schemas");
  }
  if (isObject(t.job_configuration) && isObject(t.variables)) {
    // A placeholder naming no variable would silently drop its field (a typo changes the image).
    const declared = Object.keys(((t.variables as Record<string, unknown>).properties ?? {}) as object);
    for (const name of variablePlaceholders(t.job_configuration))
      if (!declared.includes(name)) {
        const hint = didYouMean(name, declared);
        problems.push(
          `job_configuration uses {{ ${name} }}, which is not one of its variables${hint ? ` (did you mean "${hint}"?)` : ""}: declare it under variables.properties, or fix the name`,
        );
      }
  }
  if (isObject(t.job_configuration)) {
    const known = Object.keys(infra.jobVariables.entries);
    for (const key of Object.keys(t.job_configuration as object))
      if (!known.includes(key))
        problems.push(
          `job_configuration.${key} is not a setting of ${infra.type} infrastructure (it has: ${known.join(", ")})`,
        );
  }
  // Defaults every run gets: one its own schema or the infrastructure refuses would make every
  // run of the pool fail, blamed on whatever job variable the run happened to set.
  if (problems.length === 0) problems.push(...defaultProblems(t as unknown as BaseJobTemplate, infra));
  return problems;
}

function defaultProblems(t: BaseJobTemplate, infra: Infrastructure): string[] {
  const defaults = templateDefaults(t);
  const at = (name: string | undefined) => `variables.properties.${name ?? "?"}.default`;
  const own = jobVariableProblems(t, defaults, { partial: true }).map(
    (p) => `${at(p.parameter ?? undefined)}: ${p.message}`,
  );
  if (own.length > 0) return own;
  // The job configuration the defaults make, without fields a placeholder fills when a run starts.
  const config = jobConfiguration(t, {});
  for (const [k, val] of Object.entries(config)) if (hasPlaceholder(val)) delete config[k];
  const parsed = v.safeParse(infra.jobVariables, config);
  if (parsed.success) return [];
  return parsed.issues.map((i) => {
    const field = v.getDotPath(i) ?? "";
    const name = field.split(".")[0];
    const from = variablePlaceholders(t.job_configuration[name ?? ""]);
    const where = from.size === 1 ? at([...from][0]) : `job_configuration.${field}`;
    return `${where}: ${field} ${i.message} (got ${JSON.stringify(i.input)})`;
  });
}

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  !!x && typeof x === "object" && !Array.isArray(x);

/** `env.FOO: bar` written as a dotted key, as the nested form (the nested form wins). */
function expandDotted(vars: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const dotted: [string, string, unknown][] = [];
  for (const [k, val] of Object.entries(vars)) {
    const dot = k.indexOf(".");
    if (dot > 0) dotted.push([k.slice(0, dot), k.slice(dot + 1), val]);
    else out[k] = val;
  }
  for (const [head, rest, val] of dotted) {
    const holder = isPlainObject(out[head]) ? { ...(out[head] as object) } : {};
    if (!(rest in holder)) (holder as Record<string, unknown>)[rest] = val;
    out[head] = holder;
  }
  return out;
}

/**
 * Job variables in layers, later ones winning (template defaults ← deployment ← run). `env`
 * merges name by name, so a run adding one variable keeps the deployment's others (Prefect 3).
 */
export function mergeJobVariables(
  ...layers: (Record<string, unknown> | null | undefined)[]
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, val] of Object.entries(expandDotted(layer))) {
      out[k] = k === "env" && isPlainObject(val) && isPlainObject(out.env) ? { ...out.env, ...val } : val;
    }
  }
  return out;
}

/** The defaults a template's variables declare. */
export function templateDefaults(template: BaseJobTemplate): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, schema] of Object.entries(template.variables.properties ?? {}))
    if (isPlainObject(schema) && "default" in schema) out[k] = structuredClone(schema.default);
  return out;
}

const hasPlaceholder = (value: unknown): boolean =>
  typeof value === "string"
    ? value.includes("{{")
    : value !== null && typeof value === "object" && Object.values(value).some(hasPlaceholder);

/**
 * What is wrong with job variables under a pool's template: unknown names (with the known ones),
 * wrong types, and (unless `partial`, for a deployment's) required ones missing. Values still
 * holding a placeholder (a block resolved when the run starts) are not checked.
 */
export function jobVariableProblems(
  template: BaseJobTemplate,
  vars: Record<string, unknown>,
  opts: { partial?: boolean } = {},
): ParameterProblem[] {
  // Defaults count for a run (a required variable may have one); placeholders, in the
  // template's defaults as in the values, are checked once resolved, when the run starts.
  const merged = opts.partial ? expandDotted(vars) : mergeJobVariables(templateDefaults(template), vars);
  const held = new Set(Object.keys(merged).filter((k) => hasPlaceholder(merged[k])));
  const known = Object.fromEntries(Object.entries(merged).filter(([k]) => !held.has(k)));
  return [
    ...runtimeEnvProblems(template, merged.env),
    ...parameterProblems(template.variables, known, {
      partial: opts.partial,
      noun: "job variable",
      none: "this pool takes no job variables",
    }).filter((p) => !(p.parameter && held.has(p.parameter))),
  ];
}

/**
 * Variables that change how a process's runtime or loader starts: set by a deployment, they would
 * run code of its choosing in every flow process on the agent (a preload, an --require). Refused
 * unless the pool's template allows them by name, in `variables.properties.env["x-weir-allow"]`.
 */
const RUNTIME_ENV =
  /^(BUN_OPTIONS|BUN_INSPECT.*|BUN_CONFIG_.*|NODE_OPTIONS|LD_.*|DYLD_.*|GLIBC_TUNABLES|MALLOC_.*|BASH_ENV|ENV)$/;

export function runtimeEnvProblems(template: BaseJobTemplate, env: unknown): ParameterProblem[] {
  if (!env || typeof env !== "object") return [];
  const envSchema = (template.variables as { properties?: Record<string, Record<string, unknown>> })
    .properties?.env;
  const allowed = new Set(
    Array.isArray(envSchema?.["x-weir-allow"]) ? (envSchema["x-weir-allow"] as string[]) : [],
  );
  return Object.keys(env)
    .filter((k) => RUNTIME_ENV.test(k) && !allowed.has(k))
    .map((k) => ({
      parameter: "env",
      message: `job variable env.${k} is not allowed: it changes how the flow's runtime starts (a pool's admin can allow it by listing it in the pool's base job template, variables.properties.env["x-weir-allow"])`,
    }));
}

/** The {{ name }} placeholders of a job configuration that name a variable (not a block, $ENV...). */
function variablePlaceholders(x: unknown, out = new Set<string>()): Set<string> {
  if (typeof x === "string") {
    for (const m of x.matchAll(/\{\{\s*([^}\s]+)\s*\}\}/g)) {
      const name = m[1]!;
      if (!/^(weir|prefect)\./.test(name) && !name.startsWith("$")) out.add(name.split(/[.[]/)[0]!);
    }
  } else if (x && typeof x === "object") for (const y of Object.values(x)) variablePlaceholders(y, out);
  return out;
}

/** Throws INVALID naming every job variable problem, for `label` ("flow run of hello/daily"). */
export function checkJobVariables(
  template: BaseJobTemplate,
  vars: Record<string, unknown>,
  label: string,
  opts: { partial?: boolean } = {},
): void {
  const problems = jobVariableProblems(template, vars, opts).map((p) => p.message);
  if (problems.length > 0)
    throw new WeirError("INVALID", `Invalid job variables for ${label}: ${problems.join("; ")}`, {
      fields: { problems },
    });
}

/**
 * A run's job configuration: the template's defaults, then its job variables, placed into
 * job_configuration (a field that is exactly `{{ name }}` takes the value with its type; a
 * variable nobody set drops the field, so the infrastructure's own default applies).
 */
export function jobConfiguration(
  template: BaseJobTemplate,
  runVariables: Record<string, unknown>,
): Record<string, unknown> {
  const values = mergeJobVariables(templateDefaults(template), runVariables);
  return applyValues(template.job_configuration, values, { removeNotSet: true, env: false }) as Record<
    string,
    unknown
  >;
}
