import { html, raw } from "hono/html";
import type { Html } from "./layout.ts";

// A form generated from a deployment's parameter JSON Schema: a field per property (text, number,
// checkbox, a choice for enums, JSON for arrays and objects), defaults filled in, and the values
// read back with their types. Only reading the form's own input is done here; whether the values
// suit the flow is the API's call (its errors are shown next to the field they name).

interface Prop {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  title?: string;
  description?: string;
  anyOf?: Prop[];
}

export interface SchemaField {
  name: string;
  kind: "text" | "number" | "integer" | "boolean" | "enum" | "json";
  required: boolean;
  label: string;
  description?: string;
  options?: unknown[];
}

/** The fields of a parameter schema, in its order; null when there is none to go by. */
export function schemaFields(schema: Record<string, unknown> | null | undefined): SchemaField[] | null {
  const props = schema?.properties as Record<string, Prop> | undefined;
  if (!props || typeof props !== "object") return null;
  const required = new Set((schema?.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, raw]) => {
    // valibot's optional/nullable wrap a type in anyOf with null: take the type that is not null.
    const p = raw.anyOf?.find((x) => x.type !== "null") ?? raw;
    const type = Array.isArray(p.type) ? p.type.find((t) => t !== "null") : p.type;
    const kind: SchemaField["kind"] = p.enum
      ? "enum"
      : type === "string"
        ? "text"
        : type === "number"
          ? "number"
          : type === "integer"
            ? "integer"
            : type === "boolean"
              ? "boolean"
              : "json";
    return {
      name,
      kind,
      required: required.has(name),
      label: raw.title ?? p.title ?? name,
      description: raw.description ?? p.description,
      options: p.enum,
    };
  });
}

const fieldId = (name: string) => `p-${name.replace(/[^\w-]/g, "_")}`;

/** The inputs of a form for `fields`, holding `values` (defaults, or what was sent back). */
export function schemaInputs(
  fields: SchemaField[],
  values: Record<string, unknown>,
  errors: Record<string, string>,
  raw_: Record<string, string> = {},
): Html[] {
  return fields.map((f) => {
    const id = fieldId(f.name);
    const v = values[f.name];
    const err = errors[f.name];
    const describedBy = [f.description ? `${id}-hint` : "", err ? `${id}-err` : ""].filter(Boolean).join(" ");
    const aria = raw(
      `${describedBy ? ` aria-describedby="${describedBy}"` : ""}${err ? ' aria-invalid="true"' : ""}${f.required && f.kind !== "boolean" ? " required" : ""}`,
    );
    const name = `param.${f.name}`;
    const sent = raw_[name];
    let input: Html;
    if (f.kind === "boolean")
      input = html`<input type="hidden" name="${name}" value="false"><input type="checkbox" id="${id}" name="${name}" value="true"${v === true ? raw(" checked") : ""}${aria}>`;
    else if (f.kind === "enum")
      input = html`<select id="${id}" name="${name}"${aria}>${f.required ? "" : html`<option value="">(not set)</option>`}${(
        f.options ?? []
      ).map(
        (o) =>
          html`<option value="${JSON.stringify(o)}"${JSON.stringify(o) === JSON.stringify(v) ? raw(" selected") : ""}>${String(o)}</option>`,
      )}</select>`;
    else if (f.kind === "json")
      input = html`<textarea id="${id}" name="${name}"${aria}>${sent ?? (v === undefined ? "" : JSON.stringify(v, null, 2))}</textarea>`;
    else
      input = html`<input id="${id}" name="${name}" ${
        f.kind === "text"
          ? raw('type="text"')
          : raw(`type="number" step="${f.kind === "integer" ? "1" : "any"}"`)
      } value="${sent ?? (v === undefined || v === null ? "" : String(v))}"${aria}>`;
    return html`<div class="field"><label for="${id}">${f.label}${f.required ? html` <span class="mute">(required)</span>` : ""}${
      f.kind === "json" ? html` <span class="mute">(JSON)</span>` : ""
    }</label>${f.description ? html`<div class="hint" id="${id}-hint">${f.description}</div>` : ""}${input}${
      err ? html`<p class="error" id="${id}-err">${err}</p>` : ""
    }</div>`;
  });
}

/**
 * The values of the form's `param.NAME` fields, typed by the schema. An empty optional field is
 * left out (the deployment's default applies); input that cannot be read (bad JSON, not a number)
 * is an error on its field.
 */
export function readSchemaInputs(
  fields: SchemaField[],
  form: Record<string, string>,
): { values: Record<string, unknown>; errors: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const raw_ = form[`param.${f.name}`];
    if (f.kind === "boolean") {
      if (raw_ !== undefined) values[f.name] = raw_ === "true";
      continue;
    }
    if (raw_ === undefined || raw_.trim() === "") continue;
    if (f.kind === "text") values[f.name] = raw_;
    else if (f.kind === "number" || f.kind === "integer") {
      const n = Number(raw_);
      if (Number.isNaN(n)) errors[f.name] = `"${raw_}" is not a number`;
      else values[f.name] = n;
    } else {
      try {
        values[f.name] = JSON.parse(raw_);
      } catch (e) {
        errors[f.name] = `not valid JSON: ${(e as Error).message}`;
      }
    }
  }
  return { values, errors };
}

/** The parameter each of the API's problem messages names (`parameter "x" ...`), by name. */
export function problemsByField(message: string, fields: SchemaField[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of message.replace(/^[^:]*parameters for [^:]+: /, "").split("; ")) {
    const m = /parameter "([^"]+)"/.exec(part) ?? /^([\w.-]+):/.exec(part);
    // A problem inside a value ("extra.1") belongs to its top-level field.
    const name = m?.[1]?.split(".")[0];
    if (name && fields.some((f) => f.name === name)) out[name] = out[name] ? `${out[name]}; ${part}` : part;
  }
  return out;
}
