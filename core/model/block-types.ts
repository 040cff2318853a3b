import * as v from "valibot";

// Block types: named, typed configuration with secret fields (credentials), referenced from
// weir.yaml as {{ weir.blocks.TYPE.NAME }}. Secret fields are masked in every API response and CLI
// output unless asked for, and never logged.

export interface BlockDocument {
  id: string;
  created: string;
  updated: string;
  /** Block type slug. */
  type: string;
  name: string;
  data: Record<string, unknown>;
}

export interface BlockField {
  type: "string" | "boolean" | "object" | "any";
  secret?: boolean;
  required?: boolean;
  description: string;
}

export interface BlockType {
  slug: string;
  name: string;
  description: string;
  fields: Record<string, BlockField>;
}

/** A text field of a block type. */
export const textField = (description: string, extra: Partial<BlockField> = {}): BlockField => ({
  type: "string",
  description,
  ...extra,
});

/** The general-purpose block types; plugins add their own (credentials for git, S3, Docker...). */
export const CORE_BLOCK_TYPES: readonly BlockType[] = [
  {
    slug: "secret",
    name: "Secret",
    description: "A secret string",
    fields: { value: textField("the secret", { secret: true, required: true }) },
  },
  {
    slug: "json",
    name: "JSON",
    description: "Any JSON value",
    fields: { value: { type: "any", required: true, description: "the value" } },
  },
  {
    slug: "string",
    name: "String",
    description: "A string",
    fields: { value: textField("the string", { required: true }) },
  },
];

/** Where block types are looked up (the plugin Registry). */
export interface BlockTypes {
  blockType(slug: string): BlockType | undefined;
  readonly blockTypes: readonly BlockType[];
}

/** The valibot schema for a type's data: known fields only, required ones present, types right. */
/** The fields every Prefect 2 infrastructure block has (Process, DockerContainer). */
export const INFRASTRUCTURE_BLOCK_FIELDS: BlockType["fields"] = {
  env: { type: "object", description: "environment variables" },
  labels: { type: "object", description: "labels" },
  name: { type: "string", description: "name given to the process or container" },
  command: { type: "any", description: "the command, as a list of words (default: weir execute)" },
  stream_output: { type: "boolean", description: "print the run's output in the agent's" },
};

export function blockDataSchema(t: BlockType) {
  const entries: Record<string, v.GenericSchema> = {};
  for (const [name, f] of Object.entries(t.fields)) {
    const base =
      f.type === "string"
        ? v.string()
        : f.type === "boolean"
          ? v.boolean()
          : f.type === "object"
            ? v.record(v.string(), v.unknown())
            : v.unknown();
    entries[name] = f.required
      ? f.type === "any"
        ? v.pipe(
            v.unknown(),
            v.check((x) => x !== undefined, "is required"),
          )
        : base
      : v.nullish(base);
  }
  // A field given as null is unset (Prefect writes null for fields a block does not use).
  return v.pipe(
    v.strictObject(entries),
    v.transform((data) => Object.fromEntries(Object.entries(data).filter(([, x]) => x !== null))),
  );
}

export const SECRET_MASK = "********";

/** The names of a block type's secret fields (none for an unknown type). */
export function secretFieldNames(t: BlockType | undefined): string[] {
  return Object.entries(t?.fields ?? {})
    .filter(([, f]) => f.secret)
    .map(([name]) => name);
}

/** The data with secret fields masked. */
export function maskSecrets(
  t: BlockType | undefined,
  data: Record<string, unknown>,
): Record<string, unknown> {
  if (!t) return data;
  const out = { ...data };
  for (const [name, f] of Object.entries(t.fields))
    if (f.secret && out[name] != null) out[name] = SECRET_MASK;
  return out;
}

/** The secret strings in a block's data (to scrub them from step output and messages). */
export function secretValues(t: BlockType | undefined, data: Record<string, unknown>): string[] {
  if (!t) return [];
  const out: string[] = [];
  // A secret field may be a mapping (a filesystem's settings): every string in it is secret.
  const collect = (x: unknown) => {
    if (typeof x === "string" && x.length > 0) out.push(x);
    else if (x && typeof x === "object") for (const y of Object.values(x)) collect(y);
  };
  for (const [name, f] of Object.entries(t.fields)) if (f.secret) collect(data[name]);
  return out;
}

/** JSON Schema of a block type, for `weir block types` and the API. */
export function blockTypeSchema(t: BlockType): Record<string, unknown> {
  return {
    title: t.name,
    type: "object",
    properties: Object.fromEntries(
      Object.entries(t.fields).map(([k, f]) => [
        k,
        {
          ...(f.type === "any" ? {} : { type: f.type }),
          description: f.description,
          ...(f.secret ? { format: "password", writeOnly: true } : {}),
        },
      ]),
    ),
    required: Object.entries(t.fields)
      .filter(([, f]) => f.required)
      .map(([k]) => k),
    secret_fields: Object.entries(t.fields)
      .filter(([, f]) => f.secret)
      .map(([k]) => k),
    additionalProperties: false,
  };
}
