// Request generators for the API fuzz suite: bodies from each route's JSON Schema (the OpenAPI
// document the server publishes), then hostile mutations of them.
import fc from "fast-check";

type Schema = Record<string, any>;

export interface FuzzRequest {
  method: string;
  path: string;
  /** A JSON value to send, or raw bytes (invalid JSON, invalid UTF-8), or nothing. */
  body?: { json: unknown } | { raw: Uint8Array };
  what: string;
}

const hostileStrings = fc.constantFrom(
  "",
  "\u0000",
  "a\u0000b",
  "line\nbreak",
  "../../etc/passwd",
  "%00",
  "\u202e\u200b",
  "💥".repeat(50),
  "x".repeat(5_000),
  "' OR 1=1 --",
  "{{ weir.blocks.secret.x }}",
  "NaN",
  "-1",
  "9".repeat(40),
);

/** A value shaped by a JSON Schema (bounded: short strings, small arrays). */
export function fromSchema(schema: Schema | undefined, depth = 0, safe = false): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return safe ? fc.constant({}) : fc.jsonValue({ maxDepth: 2 });
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  if ("const" in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.anyOf))
    return fc.oneof(...schema.anyOf.map((s: Schema) => fromSchema(s, depth + 1)));
  switch (schema.type) {
    case "object": {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const keys = Object.keys(props);
      if (keys.length === 0)
        return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
      return fc.record(Object.fromEntries(keys.map((k) => [k, fromSchema(props[k], depth + 1)])), {
        requiredKeys: (schema.required ?? []) as never[],
      });
    }
    case "array":
      return fc.array(fromSchema(schema.items, depth + 1, safe), { maxLength: safe ? 2 : 4 });
    case "string":
      if (schema.format === "uuid") return fc.uuid();
      if (schema.format === "date-time") return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      if (safe) return fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
      return fc.oneof(
        { weight: 4, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/) },
        { weight: 2, arbitrary: fc.string({ minLength: schema.minLength ?? 0, maxLength: 20 }) },
        { weight: 1, arbitrary: hostileStrings },
      );
    case "integer":
      if (safe) return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 100, 100) });
      return fc.oneof(
        fc.integer({ min: schema.minimum ?? -1000, max: Math.min(schema.maximum ?? 1000, 1000) }),
        fc.integer(),
      );
    case "number":
      if (safe) return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 100, 100) });
      return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 100 }));
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

/** One field of a generated body replaced by something hostile. */
const hostileValue = fc.oneof(
  hostileStrings,
  fc.integer({ min: 70, max: 20_000 }).map(nested),
  fc.integer({ min: 1, max: 3 }).map((mb) => "h".repeat(mb * 1024 * 1024)),
  fc.constantFrom(null, true, -1, 0, 1e308, -1e308, [], {}, [[[]]], { __proto__: { x: 1 } }),
  fc.jsonValue({ maxDepth: 4 }),
);

function mutate(value: unknown): fc.Arbitrary<unknown> {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const key = keys.length ? fc.constantFrom(...keys, "unknown_field") : fc.constant("unknown_field");
    return fc.tuple(key, hostileValue).map(([k, h]) => ({ ...(value as object), [k]: h }));
  }
  if (Array.isArray(value) && value.length > 0)
    return fc
      .tuple(fc.nat(value.length - 1), hostileValue)
      .map(([i, h]) => value.map((x, j) => (i === j ? h : x)));
  return hostileValue;
}

const rawBodies = fc.constantFrom(
  new TextEncoder().encode("{"),
  new TextEncoder().encode('{"a": 1,}'),
  new TextEncoder().encode("null"),
  new TextEncoder().encode("[]"),
  new TextEncoder().encode('"just a string"'),
  new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), // {"\xff\xfe":1} — invalid UTF-8
  new Uint8Array([0xc3, 0x28]),
  new Uint8Array(0),
);

/** A body for a route: as its schema says, mutated, random JSON, or raw bytes. */
export function body(schema: Schema | undefined): fc.Arbitrary<{ json: unknown } | { raw: Uint8Array }> {
  const valid = fromSchema(schema);
  return fc.oneof(
    { weight: 3, arbitrary: fromSchema(schema, 0, true).map((json) => ({ json })) },
    { weight: 3, arbitrary: valid.map((json) => ({ json })) },
    { weight: 4, arbitrary: valid.chain(mutate).map((json) => ({ json })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((json) => ({ json })) },
    { weight: 1, arbitrary: rawBodies.map((raw) => ({ raw })) },
  );
}

/** Query strings: the parameters the API reads, with values from sensible to hostile. */
export const query = fc
  .dictionary(
    fc.constantFrom(
      "limit",
      "offset",
      "after",
      "state",
      "flow",
      "pool",
      "deployment",
      "include_secrets",
      "if_missing",
      "overwrite",
      "parent",
      "timeout_ms",
    ),
    fc.oneof(
      fc.constantFrom(
        "1",
        "10",
        "1000",
        "0",
        "-1",
        "abc",
        "1e3",
        "1.5",
        "NaN",
        "true",
        "COMPLETED,FAILED",
        "%00",
      ),
      fc.integer().map(String),
      hostileStrings,
    ),
    { maxKeys: 3 },
  )
  .map((q) => new URLSearchParams(q).toString());
