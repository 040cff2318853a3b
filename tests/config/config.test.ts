import { describe, expect, test } from "bun:test";
import { createApp, Wakeups } from "../../core/api/index.ts";
import { DEFAULT_LIMITS, loadConfig } from "../../core/config/index.ts";
import { tempStore } from "../helpers.ts";

describe("loadConfig()", () => {
  test("defaults, and each WEIR_* setting within its range", () => {
    const c = loadConfig({});
    expect(c.limits).toEqual(DEFAULT_LIMITS);
    expect(c.scheduler.loopMs).toBe(5000);
    expect(c.agentTimeoutMs).toBe(25_000);
    const custom = loadConfig({
      WEIR_MIN_INTERVAL_SECONDS: "60",
      WEIR_MAX_PAGE: "50",
      WEIR_SCHEDULER_LOOP_SECONDS: "1",
    });
    expect(custom.limits.minIntervalSeconds).toBe(60);
    expect(custom.limits.maxPage).toBe(50);
    expect(custom.scheduler.loopMs).toBe(1000);
  });

  test("a value out of range names the variable and the range", () => {
    expect(() => loadConfig({ WEIR_MAX_BODY_BYTES: "-5" })).toThrow(
      "WEIR_MAX_BODY_BYTES=-5 is out of range: use a number of bytes from 1024 to 1073741824",
    );
    expect(() => loadConfig({ WEIR_MAX_PAGE: "lots" })).toThrow("WEIR_MAX_PAGE=lots is out of range");
  });

  test("the API enforces the configured limits, not only the defaults", async () => {
    const store = await tempStore();
    try {
      const { limits } = loadConfig({ WEIR_MIN_INTERVAL_SECONDS: "60", WEIR_MAX_PAGE: "50" });
      const app = createApp({ store, wakeups: new Wakeups(), version: "t", limits });
      const put = await app.request("/api/deployments", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ flow_name: "f", name: "d", schedules: [{ schedule: { interval: 30 } }] }),
      });
      expect(put.status).toBe(422);
      expect(((await put.json()) as any).error.message).toContain(
        "interval 30 is shorter than the shortest allowed, 60 s (set by WEIR_MIN_INTERVAL_SECONDS)",
      );
      expect((await app.request("/api/flow-runs?limit=51")).status).toBe(422);
      expect((await app.request("/api/flow-runs?limit=50")).status).toBe(200);
    } finally {
      store.dispose();
    }
  });
});
