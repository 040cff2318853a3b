import { WeirError } from "../model/index.ts";
import {
  asText,
  blockNotAlone,
  getPath,
  NOT_FOUND,
  parsePath,
  placeholders,
  wholePlaceholder,
} from "./placeholders.ts";

/** Marks a value whose placeholder could not be resolved (removed from objects and lists). */
const NOT_SET = Symbol("not set");

export interface ApplyOptions {
  /** Drop what cannot be resolved (deploy time); false keeps it verbatim (stored pull steps). */
  removeNotSet?: boolean;
  /** The environment for {{ $VAR }}; `false` leaves those placeholders for later (stored pull steps). */
  env?: Record<string, string | undefined> | false;
}

type Resolved = { removeNotSet: boolean; env: Record<string, string | undefined> | false };

/**
 * Step outputs and $ENV into a template: strings, objects and lists, recursively. A string that is
 * exactly one placeholder keeps its value's type; placeholders inside text are replaced by text
 * (non-strings as JSON). Block and variable placeholders are left for their own resolvers.
 */
export function applyValues(
  template: unknown,
  values: Record<string, unknown>,
  options: ApplyOptions = {},
): unknown {
  const out = apply(template, values, {
    removeNotSet: options.removeNotSet ?? true,
    env: options.env ?? process.env,
  });
  return out === NOT_SET ? "" : out;
}

function apply(t: unknown, values: Record<string, unknown>, o: Resolved): unknown {
  if (typeof t === "string") return applyString(t, values, o);
  if (Array.isArray(t)) {
    const items = t.map((x) => apply(x, values, o));
    return items.filter((x) => x !== NOT_SET);
  }
  if (t && typeof t === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(t)) {
      const r = apply(v, values, o);
      if (r !== NOT_SET) out[k] = r;
    }
    return out;
  }
  return t;
}

function lookup(name: string, values: Record<string, unknown>): unknown {
  if (Object.hasOwn(values, name)) return values[name];
  return getPath(values, parsePath(name));
}

function applyString(t: string, values: Record<string, unknown>, o: Resolved): unknown {
  const whole = wholePlaceholder(t);
  if (whole?.kind === "value") {
    const v = lookup(whole.name, values);
    if (v === NOT_FOUND) return o.removeNotSet ? NOT_SET : t;
    return v;
  }
  if (whole?.kind === "env") return o.env === false ? t : (o.env[whole.name.slice(1)] ?? "");
  let out = t;
  for (const p of placeholders(t)) {
    if (p.kind === "env") {
      if (o.env !== false) out = out.replaceAll(p.full, o.env[p.name.slice(1)] ?? "");
    } else if (p.kind === "value") {
      const v = lookup(p.name, values);
      if (v === NOT_FOUND) {
        if (o.removeNotSet) out = out.replaceAll(p.full, "");
      } else out = out.replaceAll(p.full, asText(v));
    }
  }
  return out;
}

/** Replaces `{{ weir.variables.NAME }}` (or prefect.variables.NAME); a missing variable is empty. */
export async function resolveVariables(
  template: unknown,
  get: (name: string) => Promise<unknown>,
): Promise<unknown> {
  if (typeof template === "string") {
    const found = placeholders(template).filter((p) => p.kind === "variable");
    if (found.length === 0) return template;
    const value = async (p: { name: string }) => {
      const v = await get(p.name.replace(/^(weir|prefect)\.variables\./, ""));
      return v === undefined ? "" : v;
    };
    const whole = wholePlaceholder(template);
    if (whole?.kind === "variable") return value(whole);
    let out = template;
    for (const p of found) out = out.replaceAll(p.full, asText(await value(p)));
    return out;
  }
  if (Array.isArray(template)) return Promise.all(template.map((x) => resolveVariables(x, get)));
  if (template && typeof template === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(template)) out[k] = await resolveVariables(v, get);
    return out;
  }
  return template;
}

export interface BlockLookup {
  /** A block document's data by block type slug and document name (undefined: none). */
  byName(type: string, name: string): Promise<Record<string, unknown> | undefined>;
  byId?(id: string): Promise<Record<string, unknown> | undefined>;
}

/**
 * Replaces `{{ weir.blocks.TYPE.NAME[.keypath] }}` (or prefect.blocks...) with block data, and
 * `{"$ref": {"block_document_id": ID}}` objects with the document's data. A block placeholder must
 * be the whole string. Data with the single key `value` (secret, json, string...) is unwrapped;
 * a keypath may start with `value` or go straight into it.
 */
export async function resolveBlocks(template: unknown, blocks: BlockLookup): Promise<unknown> {
  if (typeof template === "string") {
    const found = placeholders(template).filter((p) => p.kind === "block");
    if (found.length === 0) return template;
    if (blockNotAlone(template)) {
      throw new WeirError(
        "INVALID",
        `Invalid template: '${template}'. Only a single block placeholder is allowed in a string and no surrounding text is allowed. Put the block in a field of its own.`,
      );
    }
    const p = found[0]!;
    const [, , type, name, ...rest] = p.name.split(".");
    if (!type || !name) {
      throw new WeirError(
        "INVALID",
        `Invalid template: '${template}'. Write blocks as {{ weir.blocks.TYPE.NAME }}`,
      );
    }
    const data = await blocks.byName(type, name);
    if (data === undefined) {
      throw new WeirError(
        "NOT_FOUND",
        `Invalid template: '${template}'. Block "${type}/${name}" does not exist (create it with: weir block create ${type} ${name} ...)`,
      );
    }
    const keys = Object.keys(data);
    const system = keys.length === 1 && keys[0] === "value";
    if (rest.length === 0) return system ? data.value : data;
    let path = parsePath(rest.join("."));
    if (system && path[0] !== "value") path = ["value", ...path];
    const v = getPath(data, path);
    if (v === NOT_FOUND) {
      throw new WeirError(
        "INVALID",
        `Invalid template: '${template}'. Could not resolve the keypath in the block document data.`,
      );
    }
    return v;
  }
  if (Array.isArray(template)) return Promise.all(template.map((x) => resolveBlocks(x, blocks)));
  if (template && typeof template === "object") {
    const ref = (template as { $ref?: { block_document_id?: unknown } }).$ref;
    if (ref && typeof ref.block_document_id === "string" && Object.keys(template).length === 1) {
      const data = await blocks.byId?.(ref.block_document_id);
      if (data === undefined)
        throw new WeirError("NOT_FOUND", `Block document ${ref.block_document_id} does not exist`);
      return data;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(template)) out[k] = await resolveBlocks(v, blocks);
    return out;
  }
  return template;
}
