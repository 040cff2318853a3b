// Hostile schedules against the compiled server: a rule that would take forever to expand is
// refused without stalling other requests, and a broken schedule left in the database by an
// older version is skipped with its error while the other deployments keep being scheduled.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Env } from "./harness.ts";

setDefaultTimeout(60_000);

let env: Env;
beforeAll(async () => {
  env = new Env();
  await env.startServer([], { WEIR_SCHEDULE_TIME_BOX_MS: "500", WEIR_SCHEDULER_LOOP_SECONDS: "0.5" });
  await env.cli(["work-pool", "create", "local"]);
});
afterAll(() => env.dispose());

const api = (method: string, path: string, body?: unknown) =>
  fetch(`${env.apiUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const deploy = async (name: string, schedule: Record<string, unknown>) => {
  const r = await api("PUT", "/deployments", {
    flow_name: "hostile",
    name,
    work_pool_name: "local",
    schedules: [{ schedule, slug: "s" }],
  });
  return { status: r.status, body: (await r.json()) as any };
};

describe("schedules that would stall a scheduler", () => {
  test("a never-matching rrule is refused while other requests keep being answered", async () => {
    const order: string[] = [];
    const refused = deploy("never", { rrule: "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30" }).then((r) => {
      order.push("schedule");
      return r;
    });
    // Started after the schedule request; each is answered while the rule is still being tried.
    await Bun.sleep(20);
    const healths = Array.from({ length: 5 }, () =>
      api("GET", "/health").then((r) => {
        order.push("health");
        return r.status;
      }),
    );
    expect(await Promise.all(healths)).toEqual([200, 200, 200, 200, 200]);
    const r = await refused;
    expect(r.status).toBe(422);
    expect(r.body.error.message).toContain("it may never match");
    expect(order.indexOf("schedule")).toBe(order.length - 1);
    expect((await api("GET", "/deployments/name/hostile/never")).status).toBe(404);
  });

  test("a broken schedule in the database is skipped with its error; the others keep their runs", async () => {
    const bad = await deploy("bad", { interval: 3600 });
    const good = await deploy("good", { interval: 60 });
    expect([bad.status, good.status]).toEqual([201, 201]);
    // What an older version could store: a per-second rule. The good deployment's runs are
    // removed, so only a scheduler pass that also meets the broken schedule can bring them back.
    await env.rawSql([
      [
        "UPDATE deployment_schedules SET schedule = ?, updated = ? WHERE deployment_id = ?",
        [
          JSON.stringify({ rrule: "RRULE:FREQ=SECONDLY", timezone: "UTC" }),
          new Date().toISOString(),
          bad.body.deployment.id,
        ],
      ],
      [
        "DELETE FROM flow_run_states WHERE flow_run_id IN (SELECT id FROM flow_runs WHERE deployment_id IN (?, ?))",
        [bad.body.deployment.id, good.body.deployment.id],
      ],
      [
        "DELETE FROM flow_runs WHERE deployment_id IN (?, ?)",
        [bad.body.deployment.id, good.body.deployment.id],
      ],
    ]);
    let listed = "";
    let goodRuns = 0;
    for (let i = 0; i < 200; i++) {
      listed = (await env.cli(["deployment", "schedule", "ls", "hostile/bad"])).stdout;
      goodRuns = (
        (await (await api("GET", `/flow-runs?deployment=${good.body.deployment.id}`)).json()) as any[]
      ).length;
      if (listed.includes("gets no runs") && goodRuns >= 3) break;
      await Bun.sleep(100);
    }
    expect(listed).toContain(
      "Schedule s gets no runs: the scheduler could not compute this schedule's runs: schedule: rrules finer than MINUTELY (FREQ=SECONDLY) are not supported",
    );
    expect(goodRuns).toBeGreaterThanOrEqual(3);
    expect((await api("GET", "/health")).status).toBe(200);
  });
});
