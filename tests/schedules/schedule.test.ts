import { describe, expect, test } from "bun:test";
import {
  assertDeployable,
  compileSchedule,
  formatInZone,
  nextDates,
  parseIntervalSeconds,
} from "../../core/schedules/index.ts";

const next = (spec: Record<string, unknown>, after: string, n: number) => {
  const s = compileSchedule(spec);
  return nextDates(s, { after: Date.parse(after), n }).map((t) => formatInZone(t, s.timezone));
};
const errorOf = (spec: unknown): string => {
  try {
    compileSchedule(spec, "schedule");
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
};

describe("interval schedules", () => {
  test("a timezone in another case is stored under the zone's own name", () => {
    expect(
      (compileSchedule({ cron: "0 9 * * *", timezone: "america/new_york" }) as { timezone: string }).timezone,
    ).toBe("America/New_York");
  });

  test("take ISO 8601 durations", () => {
    expect(parseIntervalSeconds("PT10M")).toBe(600);
    expect(parseIntervalSeconds("P1DT12H")).toBe(129_600);
    expect(parseIntervalSeconds("P2W")).toBe(1_209_600);
    expect(parseIntervalSeconds(90)).toBe(90);
    expect(() => parseIntervalSeconds("P1M")).toThrow(/years and months have no fixed length/);
    expect(() => parseIntervalSeconds(0)).toThrow(/more than 0 seconds/);
  });

  test("a daily interval at 09:00 New York stays at 09:00 local when clocks go back", () => {
    expect(
      next(
        { interval: "P1D", anchor_date: "2024-11-01T09:00:00-04:00", timezone: "America/New_York" },
        "2024-11-02T00:00:00Z",
        3,
      ),
    ).toEqual(["2024-11-02T09:00:00-04:00", "2024-11-03T09:00:00-05:00", "2024-11-04T09:00:00-05:00"]);
  });

  test("a 6-hour interval stays evenly spaced in absolute time across DST", () => {
    const dates = next(
      { interval: 21_600, anchor_date: "2024-03-09T00:00:00-05:00", timezone: "America/New_York" },
      "2024-03-10T00:00:00-05:00",
      3,
    );
    expect(dates).toEqual([
      "2024-03-10T00:00:00-05:00",
      "2024-03-10T07:00:00-04:00",
      "2024-03-10T13:00:00-04:00",
    ]);
  });
});

describe("cron schedules", () => {
  test("a fixed-time run in a skipped hour is not lost (spring forward): it runs right after the gap", () => {
    expect(next({ cron: "30 2 * * *", timezone: "America/New_York" }, "2024-03-09T12:00:00Z", 3)).toEqual([
      "2024-03-10T03:00:00-04:00",
      "2024-03-11T02:30:00-04:00",
      "2024-03-12T02:30:00-04:00",
    ]);
  });

  test("a fixed-time run in a repeated hour runs once (fall back)", () => {
    expect(
      next({ cron: "30 1 * * *", timezone: "America/New_York" }, "2024-11-03T00:00:00-04:00", 2),
    ).toEqual(["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"]);
  });

  test("day_or: day-of-month OR day-of-week by default, AND when false", () => {
    // the 13th, or any Friday
    const or = next({ cron: "0 0 13 * 5" }, "2024-09-01T00:00:00Z", 3);
    expect(or).toEqual([
      "2024-09-06T00:00:00+00:00",
      "2024-09-13T00:00:00+00:00",
      "2024-09-20T00:00:00+00:00",
    ]);
    // Friday the 13th only
    const and = next({ cron: "0 0 13 * 5", day_or: false }, "2024-09-01T00:00:00Z", 2);
    expect(and).toEqual(["2024-09-13T00:00:00+00:00", "2024-12-13T00:00:00+00:00"]);
  });

  test("aliases such as @daily work", () => {
    expect(next({ cron: "@daily" }, "2024-01-01T10:00:00Z", 1)).toEqual(["2024-01-02T00:00:00+00:00"]);
  });
});

describe("invalid schedules say what and why", () => {
  test("only one kind", () => {
    expect(errorOf({ cron: "* * * * *", interval: 60 })).toBe(
      "schedule: Only one schedule type can be provided (got interval and cron)",
    );
  });
  test("anchor dates only with intervals", () => {
    expect(errorOf({ cron: "* * * * *", anchor_date: "2024-01-01T00:00:00Z" })).toBe(
      "schedule: An anchor date can only be provided with an interval schedule",
    );
  });
  test("a bad cron field is named by position", () => {
    expect(errorOf({ cron: "0 25 * * *" })).toBe(
      'schedule: cron "0 25 * * *": field 2 (hour) "25" is not valid',
    );
    expect(errorOf({ cron: "0 9 * *" })).toContain("has 4 fields; it needs 5");
  });
  test("an unknown timezone gets a suggestion", () => {
    expect(errorOf({ cron: "0 9 * * *", timezone: "America/New_Yrok" })).toBe(
      'schedule: unknown timezone "America/New_Yrok" (did you mean "America/New_York"?)',
    );
  });
  test("unknown fields get a suggestion", () => {
    expect(errorOf({ cron: "0 9 * * *", timezon: "UTC" })).toContain(
      'unknown field "timezon" (did you mean "timezone"?)',
    );
    expect(errorOf({ cron: "0 9 * * *", anchor: 1 })).toContain('unknown field "anchor"');
  });
  test("deployment schedules refuse COUNT and point at UNTIL", () => {
    const s = compileSchedule({ rrule: "FREQ=DAILY;COUNT=3" });
    expect(() => assertDeployable(s)).toThrow(
      /COUNT are not supported on deployments \(end the schedule with UNTIL/,
    );
    expect(() =>
      assertDeployable(compileSchedule({ rrule: "FREQ=DAILY;UNTIL=20300101T000000" })),
    ).not.toThrow();
  });
  test("a DTSTART with TZID sets the timezone", () => {
    const s = compileSchedule({ rrule: "DTSTART;TZID=Europe/Berlin:20240101T090000\nRRULE:FREQ=DAILY" });
    expect(s.timezone).toBe("Europe/Berlin");
    expect(
      nextDates(s, { after: Date.parse("2024-07-01T00:00:00Z"), n: 1 }).map((t) =>
        formatInZone(t, "Europe/Berlin"),
      ),
    ).toEqual(["2024-07-01T09:00:00+02:00"]);
  });
});

describe("an rrule that may never match", () => {
  test("is stopped by the time box, which names the time it was asked from", () => {
    // February 30th never comes; a time box of 0 ms stops the expansion after its first window.
    const s = compileSchedule({ rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30" }, "schedule", { timeBoxMs: 0 });
    expect(() => nextDates(s, { after: Date.parse("2030-01-01T00:00:00Z"), n: 1 })).toThrow(
      "before it found a run time after 2030-01-01T00:00:00.000Z: it may never match",
    );
  });
});
