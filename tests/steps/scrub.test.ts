// Scrubbing what a run sends: secrets leave strings as ***, and nothing else changes.
import { describe, expect, test } from "bun:test";
import { scrubJson, scrubValue } from "../../core/steps/index.ts";

describe("scrubValue / scrubJson", () => {
  test("replace a secret inside strings, keys included, at any depth", () => {
    const value = {
      message: "boom with hunter2!",
      data: { error: { stack: ["at x (hunter2)", 7], hunter2: true } },
    };
    expect(scrubValue<unknown>(value, ["hunter2"])).toEqual({
      message: "boom with ***!",
      data: { error: { stack: ["at x (***)", 7], "***": true } },
    });
  });

  test("never touch numbers, ids, timestamps or the text's structure, even for a secret that looks like them", () => {
    const state = {
      type: "FAILED",
      timestamp: "2026-12-03T15:24:18.000Z",
      run_count: 1203,
      ok: true,
      n: null,
    };
    // "1203" and "true" and "null" are not in any string here: only strings change.
    expect(scrubValue(state, ["1203", "true", "null", "2026"])).toEqual({
      ...state,
      timestamp: "***-12-03T15:24:18.000Z",
    });
    const text = JSON.stringify({ token: "n12", note: "line\nn123", count: 12 });
    const clean = scrubJson(text, ["n12"]);
    expect(JSON.parse(clean)).toEqual({ token: "***", note: "line\n***3", count: 12 });
  });

  test("a secret with quotes or backslashes is found as JSON writes it, and the text stays JSON", () => {
    const secret = 'p"a\\ss';
    const text = JSON.stringify({ quoted: `"${secret}"`, list: [secret] });
    const clean = scrubJson(text, [secret]);
    expect(JSON.parse(clean)).toEqual({ quoted: '"***"', list: ["***"] });
    expect(scrubJson('{"a":1}', [secret])).toBe('{"a":1}'); // nothing to do: the same text
  });

  test("secrets shorter than 3 characters are left alone", () => {
    expect(scrubValue({ a: "ab ab" }, ["ab"])).toEqual({ a: "ab ab" });
  });
});
