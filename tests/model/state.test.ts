import { describe, expect, test } from "bun:test";
import {
  assertTransition,
  canTransition,
  STATE_TYPES,
  TERMINAL_STATES,
  WeirError,
} from "../../core/model/index.ts";

describe("state transitions", () => {
  test("a run moves through the normal life cycle", () => {
    expect(canTransition(null, "SCHEDULED")).toBe(true);
    expect(canTransition("SCHEDULED", "PENDING")).toBe(true);
    expect(canTransition("PENDING", "RUNNING")).toBe(true);
    expect(canTransition("RUNNING", "COMPLETED")).toBe(true);
    expect(canTransition("RUNNING", "FAILED")).toBe(true);
  });

  test("finished runs never change state again", () => {
    for (const from of TERMINAL_STATES) {
      for (const to of STATE_TYPES) expect(canTransition(from, to)).toBe(false);
    }
  });

  test("a COMPLETED run cannot become RUNNING, with a message that says why", () => {
    expect(() => assertTransition("flow run x", "COMPLETED", "RUNNING")).toThrow(/already Completed/);
    try {
      assertTransition("flow run x", "COMPLETED", "RUNNING");
    } catch (e) {
      expect(e).toBeInstanceOf(WeirError);
      expect((e as WeirError).code).toBe("CONFLICT");
    }
  });

  test("retries go RUNNING → SCHEDULED (AwaitingRetry) → RUNNING", () => {
    expect(canTransition("RUNNING", "SCHEDULED")).toBe(true);
    expect(canTransition("SCHEDULED", "RUNNING")).toBe(true);
  });

  test("cancelling ends in CANCELLED, not back in RUNNING", () => {
    expect(canTransition("RUNNING", "CANCELLING")).toBe(true);
    expect(canTransition("CANCELLING", "CANCELLED")).toBe(true);
    expect(canTransition("CANCELLING", "RUNNING")).toBe(false);
  });

  test("a new run starts SCHEDULED, PENDING or RUNNING only", () => {
    expect(canTransition(null, "COMPLETED")).toBe(false);
    expect(canTransition(null, "PENDING")).toBe(true);
  });
});
