import { Validator } from "@cfworker/json-schema";
import { didYouMean } from "./did-you-mean.ts";
import { WeirError } from "./errors.ts";

const hintFor = (name: string, known: string[]) => {
  const hint = didYouMean(name, known);
  return hint ? ` (did you mean "${hint}"?)` : "";
};

/** A command-line value: JSON when it parses (`3`, `true`, `[1]`), else the text itself (`Ada`). */
export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Parses `--param k=v` flags (value read as JSON, else kept as a string) and `--params JSON`
 * into one object; `--param` wins over `--params` for the same name.
 */
export function parseParamFlags(pairs: readonly string[], json?: string): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (cause) {
      throw new WeirError(
        "USAGE",
        `--params is not valid JSON: ${(cause as Error).message} (example: --params '{"name": "Ada"}')`,
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new WeirError("USAGE", `--params must be a JSON object (example: --params '{"name": "Ada"}')`);
    }
    out = { ...(parsed as Record<string, unknown>) };
  }
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw new WeirError("USAGE", `--param "${pair}" must look like NAME=VALUE (example: --param name=Ada)`);
    const name = pair.slice(0, eq);
    // On a plain object it would set the prototype, and the value would vanish unseen.
    if (name === "__proto__")
      throw new WeirError("USAGE", `--param "${pair}": "__proto__" cannot be a parameter's name`);
    out[name] = parseValue(pair.slice(eq + 1));
  }
  return out;
}

const typeOf = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v;

function expected(schema: unknown): string {
  if (!schema || typeof schema !== "object") return "any value";
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  if ("const" in s) return JSON.stringify(s.const);
  if (Array.isArray(s.anyOf)) return s.anyOf.map(expected).join(" or ");
  if (Array.isArray(s.type)) return s.type.join(" or ");
  if (typeof s.type === "string") return s.type;
  return "a valid value";
}

const asSchema = (x: unknown): Record<string, unknown> | undefined =>
  x && typeof x === "object" && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;

/** Does a value have a type this (branch of a) schema allows? */
function typeFits(schema: Record<string, unknown>, value: unknown): boolean {
  if (Array.isArray(schema.anyOf))
    return schema.anyOf.some((b) => asSchema(b) !== undefined && typeFits(asSchema(b)!, value));
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return true;
  const t = typeOf(value);
  return types.some((x) => x === t || (x === "number" && t === "integer"));
}

/** The branch of an anyOf a value's type picks, when exactly one does. */
function branchFor(schema: Record<string, unknown>, value: unknown): Record<string, unknown> {
  if (!Array.isArray(schema.anyOf)) return schema;
  const fits = schema.anyOf.map(asSchema).filter((b) => b && typeFits(b, value));
  return fits.length === 1 ? branchFor(fits[0]!, value) : schema;
}

/** The schema of the value at a path ("volumes.0"): properties by name, items by index. */
function schemaAt(
  schema: Record<string, unknown>,
  path: string[],
  root: unknown,
): Record<string, unknown> | undefined {
  let s: Record<string, unknown> | undefined = schema;
  let value = root;
  for (const key of path) {
    if (!s) return undefined;
    s = branchFor(s, value);
    value = (value as Record<string, unknown> | undefined)?.[key];
    s = /^\d+$/.test(key) && s.items ? asSchema(s.items) : asSchema(asSchema(s.properties)?.[key]);
  }
  return s;
}

/** What a value must be under its schema: the constraint it breaks when its type is right. */
function mustBe(schema: Record<string, unknown>, value: unknown, described?: unknown): [string, string] {
  const s = branchFor(schema, value);
  const text = typeof schema.description === "string" ? schema.description : described;
  const about = typeof text === "string" ? ` — ${text.replace(/\.?$/, "")}` : "";
  if (Array.isArray(s.enum) || "const" in s || !typeFits(s, value)) return [`must be ${expected(s)}`, ""];
  // The first rule the value breaks, checked here: the validator's own words name no rule.
  const num = (k: string) => (typeof s[k] === "number" ? (s[k] as number) : undefined);
  if (typeof value === "string") {
    if (typeof s.pattern === "string" && !safeTest(s.pattern, value))
      return typeof s["x-weir-message"] === "string"
        ? [s["x-weir-message"], ""]
        : [`must match the pattern ${s.pattern}`, about];
    const min = num("minLength");
    const max = num("maxLength");
    if (min !== undefined && value.length < min) return [`must be at least ${min} characters long`, about];
    if (max !== undefined && value.length > max) return [`must be at most ${max} characters long`, about];
    if (typeof s.format === "string") return [`must be a valid ${s.format}`, about];
  }
  if (typeof value === "number") {
    const checks: [string, (n: number) => boolean, string][] = [
      ["minimum", (n) => value < n, "at least"],
      ["exclusiveMinimum", (n) => value <= n, "more than"],
      ["maximum", (n) => value > n, "at most"],
      ["exclusiveMaximum", (n) => value >= n, "less than"],
    ];
    for (const [k, broken, words] of checks) {
      const n = num(k);
      if (n !== undefined && broken(n)) return [`must be ${words} ${n}`, about];
    }
    const step = num("multipleOf");
    if (step !== undefined && value % step !== 0) return [`must be a multiple of ${step}`, about];
  }
  if (Array.isArray(value)) {
    const min = num("minItems");
    const max = num("maxItems");
    if (min !== undefined && value.length < min) return [`must have at least ${min} items`, about];
    if (max !== undefined && value.length > max) return [`must have at most ${max} items`, about];
  }
  return [`must be ${expected(s)}`, about];
}

/** Whether a JSON Schema pattern matches; a pattern JavaScript cannot read counts as broken. */
function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern, "u").test(value);
  } catch {
    return false;
  }
}

const validators = new Map<string, Validator>();

/** Compiled validators by schema text: deployments are run far more often than they change. */
function validatorFor(schema: Record<string, unknown>): Validator {
  const key = JSON.stringify(schema);
  let v = validators.get(key);
  if (!v) {
    if (validators.size > 1000) validators.clear();
    v = new Validator(schema as never, "7", false);
    validators.set(key, v);
  }
  return v;
}

export interface SchemaOptions {
  /** A deployment's defaults need not name every required value: skip "missing required". */
  partial?: boolean;
  /** What the values are called in messages (default "parameter"; job variables use "job variable"). */
  noun?: string;
  /** What an object with no properties takes, for the "unknown" message (default "the flow takes no parameters"). */
  none?: string;
}

export interface ParameterProblem {
  /** The top-level parameter the problem is about (null when about the whole object). */
  parameter: string | null;
  message: string;
}

/**
 * What is wrong with flow parameters under the JSON Schema stored with a deployment: unknown
 * parameters, missing required ones (unless `partial`: a deployment's defaults need not name
 * every parameter), and wrong types with the type expected.
 */
export function parameterProblems(
  schema: Record<string, unknown> | null | undefined,
  params: Record<string, unknown>,
  opts: SchemaOptions = {},
): ParameterProblem[] {
  if (!schema || typeof schema !== "object") return [];
  const noun = opts.noun ?? "parameter";
  const props = (schema.properties ?? {}) as Record<string, unknown>;
  const problems: ParameterProblem[] = [];
  if (schema.additionalProperties !== true && typeof schema.additionalProperties !== "object") {
    for (const name of Object.keys(params)) {
      if (!(name in props)) {
        const known = Object.keys(props);
        problems.push({
          parameter: name,
          message: `unknown ${noun} "${name}"${hintFor(name, known)}${known.length ? ` (known: ${known.join(", ")})` : ` (${opts.none ?? "the flow takes no parameters"})`}`,
        });
      }
    }
  }
  const result = validatorFor(schema).validate(params);
  for (const err of result.errors) {
    const path = err.instanceLocation.replace(/^#\/?/, "").split("/").filter(Boolean).join(".");
    if (err.keyword === "required") {
      // Top-level ones may come with each run (a deployment's defaults need not name them); a
      // field missing inside an object that is given is missing from every run that uses it.
      if (opts.partial && path === "") continue;
      const m = /"([^"]+)"/.exec(err.error);
      const field = m?.[1] ?? "";
      const name = path ? `${path}.${field}` : field || path;
      const sub = path ? schemaAt(schema, [...path.split("."), field], params) : props[field];
      problems.push({
        parameter: path ? path.split(".")[0]! : name,
        message: `missing required ${noun} "${name}" (expected ${expected(sub)})`,
      });
    } else if (
      err.keyword === "properties" ||
      err.keyword === "additionalProperties" ||
      err.keyword === "items" ||
      path === ""
    ) {
      // summaries of the per-property (per-item) errors reported on their own
    } else {
      const top = path.split(".")[0]!;
      let value: unknown = params;
      for (const p of path.split(".")) value = (value as Record<string, unknown> | undefined)?.[p];
      const sub = schemaAt(schema, path.split("."), params);
      const [want, about] = sub
        ? mustBe(sub, value, asSchema(props[top])?.description)
        : [`must be valid: ${err.error}`, ""];
      problems.push({
        parameter: top,
        message: `${noun} "${path}" ${want} (got ${typeOf(value)} ${JSON.stringify(value)})${about}`,
      });
    }
  }
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.message) && seen.add(p.message));
}

/** Throws one INVALID error naming every problem parameterProblems() finds. */
export function validateParameters(
  schema: Record<string, unknown> | null | undefined,
  params: Record<string, unknown>,
  label: string,
  opts: { partial?: boolean } = {},
): void {
  const problems = parameterProblems(schema, params, opts).map((p) => p.message);
  if (problems.length > 0) {
    throw new WeirError("INVALID", `Invalid parameters for ${label}: ${problems.join("; ")}`, {
      fields: { problems },
    });
  }
}
