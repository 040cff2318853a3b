import { describe, expect, test } from "bun:test";
import { parameterProblems, parseParamFlags, validateParameters, WeirError } from "../../core/model/index.ts";

const schema = {
  type: "object",
  properties: { name: { type: "string" }, times: { type: "number", default: 1 }, mode: { enum: ["a", "b"] } },
  required: ["name"],
};

const messageOf = (fn: () => void): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WeirError);
    return (e as WeirError).message;
  }
  throw new Error("expected an error");
};

describe("parseParamFlags()", () => {
  test("__proto__ is no parameter name (it would set the object's prototype, the value lost unseen)", () => {
    expect(() => parseParamFlags(['__proto__={"zz":2}'])).toThrow(
      '"__proto__" cannot be a parameter\'s name',
    );
  });

  test("reads values as JSON, else as text", () => {
    expect(parseParamFlags(["name=Ada", "times=3", "flag=true", "list=[1,2]", 'obj={"a":1}'])).toEqual({
      name: "Ada",
      times: 3,
      flag: true,
      list: [1, 2],
      obj: { a: 1 },
    });
  });

  test("--param wins over --params for the same name", () => {
    expect(parseParamFlags(["name=B"], '{"name":"A","x":1}')).toEqual({ name: "B", x: 1 });
  });

  test("keeps '=' inside values", () => {
    expect(parseParamFlags(["q=a=b"])).toEqual({ q: "a=b" });
  });

  test("rejects a flag without '=' and bad JSON, naming the flag", () => {
    expect(messageOf(() => parseParamFlags(["name"]))).toContain('--param "name" must look like NAME=VALUE');
    expect(messageOf(() => parseParamFlags([], "{nope"))).toContain("--params is not valid JSON");
    expect(messageOf(() => parseParamFlags([], "[1]"))).toContain("--params must be a JSON object");
  });
});

describe("validateParameters()", () => {
  test("accepts valid parameters", () => {
    expect(() => validateParameters(schema, { name: "Ada", times: 2 }, "hello/daily")).not.toThrow();
  });

  test("names a wrong type and the expected type", () => {
    expect(messageOf(() => validateParameters(schema, { name: "Ada", times: "x" }, "hello/daily"))).toBe(
      'Invalid parameters for hello/daily: parameter "times" must be number (got string "x")',
    );
  });

  test("names unknown parameters with a did-you-mean, and lists the known ones", () => {
    expect(messageOf(() => validateParameters(schema, { name: "Ada", nme: 1 }, "d"))).toContain(
      'unknown parameter "nme" (did you mean "name"?) (known: name, times, mode)',
    );
  });

  test("names a missing required parameter", () => {
    expect(messageOf(() => validateParameters(schema, {}, "d"))).toContain(
      'missing required parameter "name" (expected string)',
    );
  });

  test("a field missing inside a given object is named by its path and type, a deployment's defaults too", () => {
    const nested = {
      type: "object",
      properties: {
        nested: {
          type: "object",
          properties: { a: { type: "number" }, b: { type: "string" } },
          required: ["a"],
        },
      },
    };
    expect(parameterProblems(nested, { nested: { b: "y" } }, { partial: true })).toEqual([
      { parameter: "nested", message: 'missing required parameter "nested.a" (expected number)' },
    ]);
  });

  test("names the allowed values of an enum", () => {
    expect(messageOf(() => validateParameters(schema, { name: "x", mode: "c" }, "d"))).toContain(
      'must be one of "a", "b"',
    );
  });

  test("no schema means anything goes", () => {
    expect(() => validateParameters(null, { anything: 1 }, "d")).not.toThrow();
  });
});

describe("a value of the right type that breaks a rule", () => {
  test("is told the rule it breaks, not the type it already has", async () => {
    const v = await import("valibot");
    const { toJsonSchema } = await import("@valibot/to-json-schema");
    const { withRuleMessage } = await import("../../core/infra/index.ts");
    const schema = toJsonSchema(
      v.object({
        code: v.pipe(v.string(), v.regex(/^[A-Z]+$/, "must be upper-case letters"), v.maxLength(5)),
        mail: v.pipe(v.string(), v.email()),
        n: v.pipe(v.number(), v.gtValue(0)),
        list: v.pipe(v.array(v.string()), v.minLength(2)),
      }),
      { errorMode: "ignore", overrideAction: withRuleMessage },
    ) as Record<string, unknown>;
    const said = (params: Record<string, unknown>) => parameterProblems(schema, params).map((p) => p.message);
    expect(said({ code: "ABCDEFGH", mail: "nope", n: 0, list: ["a"] })).toEqual([
      'parameter "code" must be at most 5 characters long (got string "ABCDEFGH")',
      'parameter "mail" must be a valid email (got string "nope")',
      'parameter "n" must be more than 0 (got integer 0)',
      'parameter "list" must have at least 2 items (got array ["a"])',
    ]);
    expect(said({ code: "abc", mail: "a@b.co", n: 1, list: ["a", "b"] })).toEqual([
      'parameter "code" must be upper-case letters (got string "abc")',
    ]);
  });
});
