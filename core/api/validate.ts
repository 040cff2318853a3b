import type { Context } from "hono";
import * as v from "valibot";
import { WeirError } from "../model/index.ts";

/** Reads and validates a JSON body; problems name the field path and what was expected. */
export async function readBody<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  let raw: unknown;
  try {
    const text = await c.req.text();
    raw = text.trim() === "" ? {} : JSON.parse(text);
  } catch (cause) {
    throw new WeirError("INVALID", `Request body is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return check(schema, raw, "request body");
}

export function check<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const problems = result.issues.map((i) => {
    const path = v.getDotPath(i);
    return path ? `${path}: ${i.message}` : i.message;
  });
  throw new WeirError("INVALID", `Invalid ${what}: ${problems.join("; ")}`, { fields: { problems } });
}

/** A path parameter of the matched route (always present when the route matched). */
export function param(c: Context, name: string): string {
  return c.req.param(name) ?? "";
}
