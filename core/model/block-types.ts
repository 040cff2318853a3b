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
  type: "string" | "boolean" | "any";
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

const str = (description: string, extra: Partial<BlockField> = {}): BlockField => ({
  type: "string",
  description,
  ...extra,
});

export const BLOCK_TYPES: readonly BlockType[] = [
  {
    slug: "secret",
    name: "Secret",
    description: "A secret string",
    fields: { value: str("the secret", { secret: true, required: true }) },
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
    fields: { value: str("the string", { required: true }) },
  },
  {
    slug: "github-credentials",
    name: "GitHub Credentials",
    description: "A token for private GitHub repositories",
    fields: { token: str("personal access token", { secret: true, required: true }) },
  },
  {
    slug: "gitlab-credentials",
    name: "GitLab Credentials",
    description: "A token for private GitLab repositories",
    fields: {
      token: str("personal or deploy token", { secret: true, required: true }),
      url: str("GitLab URL (self-hosted)"),
    },
  },
  {
    slug: "bitbucket-credentials",
    name: "Bitbucket Credentials",
    description: "A token for private Bitbucket repositories",
    fields: {
      token: str("app password or token", { secret: true, required: true }),
      username: str("Bitbucket user name"),
    },
  },
  {
    slug: "aws-credentials",
    name: "AWS Credentials",
    description: "Credentials for AWS and S3-compatible services",
    fields: {
      aws_access_key_id: str("access key id"),
      aws_secret_access_key: str("secret access key", { secret: true }),
      aws_session_token: str("session token", { secret: true }),
      region_name: str("region"),
      profile_name: str("profile name"),
      endpoint_url: str("endpoint of an S3-compatible service"),
    },
  },
  {
    slug: "docker-registry-credentials",
    name: "Docker Registry Credentials",
    description: "Log-in for a Docker registry",
    fields: {
      username: str("user name", { required: true }),
      password: str("password", { secret: true, required: true }),
      registry_url: str("registry URL", { required: true }),
      reauth: { type: "boolean", description: "log in again even if logged in" },
    },
  },
];

export function blockType(slug: string): BlockType | undefined {
  return BLOCK_TYPES.find((t) => t.slug === slug);
}

/** The valibot schema for a type's data: known fields only, required ones present, types right. */
export function blockDataSchema(t: BlockType) {
  const entries: Record<string, v.GenericSchema> = {};
  for (const [name, f] of Object.entries(t.fields)) {
    const base = f.type === "string" ? v.string() : f.type === "boolean" ? v.boolean() : v.unknown();
    entries[name] = f.required
      ? f.type === "any"
        ? v.pipe(
            v.unknown(),
            v.check((x) => x !== undefined, "is required"),
          )
        : base
      : v.optional(base);
  }
  return v.strictObject(entries);
}

export const SECRET_MASK = "********";

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
  return Object.entries(t.fields)
    .filter(([name, f]) => f.secret && typeof data[name] === "string" && (data[name] as string).length > 0)
    .map(([name]) => data[name] as string);
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
