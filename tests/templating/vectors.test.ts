import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { applyValues, resolveBlocks, resolveVariables } from "../../core/templating/index.ts";

interface Vector {
  name: string;
  fn: "apply_values" | "resolve_variables" | "resolve_block_document_references";
  template: unknown;
  values: Record<string, unknown>;
  options?: { remove_notset?: boolean };
  env?: Record<string, string>;
  variables?: Record<string, unknown>;
  blocks?: Record<string, Record<string, unknown>>;
  blocks_by_id?: Record<string, Record<string, unknown>>;
  expected?: unknown;
  error?: string;
}

// A copy of the workspace's shared/vectors, kept in the repository (see its README).
const file = join(import.meta.dir, "../fixtures/vectors/templating.json");
const vectors = JSON.parse(readFileSync(file, "utf8")) as Vector[];

async function run(v: Vector): Promise<unknown> {
  if (v.fn === "apply_values")
    return applyValues(v.template, v.values, {
      removeNotSet: v.options?.remove_notset ?? true,
      env: v.env ?? {},
    });
  if (v.fn === "resolve_variables") return resolveVariables(v.template, async (name) => v.variables?.[name]);
  return resolveBlocks(v.template, {
    byName: async (type, name) => v.blocks?.[`${type}/${name}`],
    byId: async (id) => v.blocks_by_id?.[id],
  });
}

describe("templating vectors (tests/fixtures/vectors/templating.json)", () => {
  test("are all here", () => expect(vectors.length).toBeGreaterThanOrEqual(53));
  test.each(vectors.map((v) => [v.name, v] as const))("%s", async (_name, v) => {
    if (v.error) {
      // the part of Prefect's message after "ValueError: " (and after "... " where it was elided)
      const tail = v.error
        .replace(/^ValueError: /, "")
        .split("... ")
        .pop()!
        .replace(/^Invalid template: '.*?'\. /, "");
      await expect(run(v)).rejects.toThrow(tail);
    } else {
      expect(await run(v)).toEqual(v.expected);
    }
  });
});
