import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compileSchedule, formatInZone, nextDates } from "../../core/schedules/index.ts";

interface Vector {
  name: string;
  spec: Record<string, unknown>;
  after: string;
  n: number;
  end?: string;
  expected: string[];
}

// A copy of the workspace's shared/vectors, kept in the repository (see its README).
const file = join(import.meta.dir, "../fixtures/vectors/schedules.json");
const vectors = JSON.parse(readFileSync(file, "utf8")) as Vector[];

describe("schedule vectors (tests/fixtures/vectors/schedules.json)", () => {
  test("are all here", () => expect(vectors.length).toBeGreaterThanOrEqual(28));
  test.each(vectors.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    // A roomy time box: these are facts about the dates, not about how fast this machine is.
    const s = compileSchedule(v.spec, "schedule", { timeBoxMs: 30_000 });
    const dates = nextDates(s, {
      after: Date.parse(v.after),
      n: v.n,
      end: v.end ? Date.parse(v.end) : undefined,
    });
    expect(dates.map((t) => formatInZone(t, s.timezone))).toEqual(v.expected);
  });
});
