import type { Context } from "hono";
import * as v from "valibot";
import { LIMIT_SETTINGS, type Limits } from "../config/index.ts";
import { WeirError } from "../model/index.ts";
import { bodyRead } from "./body-limit.ts";

const utf8 = new TextDecoder();

/** The deepest nesting of arrays and objects in a parsed JSON value (iterative: no stack to overflow). */
export function jsonDepth(value: unknown, stopAt = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth > deepest) deepest = depth;
    if (deepest > stopAt) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Reads and validates a JSON body: its size was checked by the body limit, its nesting is checked
 * here before any recursive code sees it, then the schema; problems name the field path and what
 * was expected.
 */
export async function readBody<S extends v.GenericSchema>(
  c: Context,
  schema: S,
  limits: Limits,
): Promise<v.InferOutput<S>> {
  let raw: unknown;
  try {
    const read = bodyRead(c);
    const text = read ? utf8.decode(read) : await c.req.text();
    raw = text.trim() === "" ? {} : JSON.parse(text);
  } catch (cause) {
    if (cause instanceof WeirError) throw cause;
    throw new WeirError("INVALID", `Request body is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (jsonDepth(raw, limits.maxJsonDepth) > limits.maxJsonDepth) {
    throw new WeirError(
      "INVALID",
      `Request body is nested deeper than ${limits.maxJsonDepth} levels of arrays and objects (${LIMIT_SETTINGS.maxJsonDepth})`,
    );
  }
  return check(schema, raw, "request body");
}

export function check<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const problems = [
    ...new Set(
      result.issues.slice(0, 20).map((i) => {
        const path = v.getDotPath(i);
        // a key the schema needs that is not there at all
        const message = i.kind === "schema" && i.input === undefined && path ? "is required" : i.message;
        return path ? `${path}: ${message}` : message;
      }),
    ),
  ];
  throw new WeirError("INVALID", `Invalid ${what}: ${problems.join("; ")}`, { fields: { problems } });
}

/** A path parameter of the matched route (always present when the route matched). */
export function param(c: Context, name: string): string {
  return c.req.param(name) ?? "";
}

/**
 * `limit` and `offset` of a list: whole numbers, limit from 1 to the server's page maximum; bad
 * values are refused with the allowed range rather than read as "no limit".
 */
export function page(
  c: Context,
  limits: Limits,
  defaultLimit = limits.maxPage,
): { limit: number; offset: number } {
  const read = (key: "limit" | "offset", fallback: number, min: number, max: number): number => {
    const raw = c.req.query(key);
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new WeirError(
        "INVALID",
        `${key}=${raw} is not allowed: use a whole number from ${min} to ${max}${key === "limit" ? ` (${LIMIT_SETTINGS.maxPage} sets the maximum)` : ""}`,
      );
    }
    return n;
  };
  return {
    limit: read("limit", Math.min(defaultLimit, limits.maxPage), 1, limits.maxPage),
    offset: read("offset", 0, 0, Number.MAX_SAFE_INTEGER),
  };
}
