import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DEFAULT_SETTINGS, schedulePass } from "../../core/scheduler/index.ts";
import { DateExpander } from "../../core/schedules/index.ts";
import type * as q from "../../core/store/index.ts";

import { scheduledRunRow } from "../helpers.ts";
import { backends, type TestStore } from "../store/backends.ts";

for (const backend of backends()) {
  describe(`${backend.name}`, () => {
    let store: TestStore;
    beforeEach(async () => {
      store = await backend.open();
      await store.createWorkPool({ name: "local" });
    });
    afterEach(() => store.dispose());

    const HOUR = 3_600_000;
    const T0 = Date.parse("2030-01-01T00:00:00Z");
    const hourly = { interval: 3600, anchor_date: "2020-01-01T00:00:00.000Z", timezone: "UTC" };

    async function deploy(schedules: q.ScheduleInput[] | undefined, extra: Partial<q.DeploymentInput> = {}) {
      return (
        await store.upsertDeployment({
          flow_name: "f",
          name: "d",
          work_pool_name: "local",
          parameters: { a: 1 },
          schedules,
          ...extra,
        })
      ).deployment;
    }
    const runs = (deploymentId: string) => store.listFlowRuns({ deploymentId, limit: 1000 });
    /** An auto-scheduled run as a scheduler pass inserts it. */
    const scheduledRow = (
      deploymentId: string,
      flowId: string,
      scheduleId: string,
      time: number,
      name: string,
    ) => scheduledRunRow({ deploymentId, flowId, scheduleId, time: new Date(time).toISOString(), name });
    const scheduledTimes = async (deploymentId: string) =>
      (await runs(deploymentId))
        .filter((r) => r.state.type === "SCHEDULED")
        .map((r) => r.expected_start_time)
        .sort();

    describe("schedulePass()", () => {
      test("keeps at least 3 runs and an hour ahead, with parameters, pool and tags", async () => {
        const d = await deploy([{ schedule: hourly, parameters: { b: 2 } }]);
        const r = await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
        expect(r.created).toBe(3);
        const list = await runs(d.id);
        expect(list.map((x) => x.expected_start_time).sort()).toEqual([
          "2030-01-01T01:00:00.000Z",
          "2030-01-01T02:00:00.000Z",
          "2030-01-01T03:00:00.000Z",
        ]);
        for (const run of list) {
          expect(run.parameters).toEqual({ a: 1, b: 2 });
          expect(run.work_pool_name).toBe("local");
          expect(run.auto_scheduled).toBe(true);
          expect(run.tags).toContain("auto-scheduled");
        }
      });

      test("a redeploy that changes what runs carry remakes the scheduled runs; an identical one keeps them", async () => {
        await store.createWorkPool({ name: "other" });
        const d = await deploy([{ schedule: hourly }]);
        await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
        const before = (await runs(d.id)).map((r) => r.id).sort();
        // The same file again (keys in another order): nothing changes.
        await store.upsertDeployment({
          parameters: { a: 1 },
          work_pool_name: "local",
          name: "d",
          flow_name: "f",
          schedules: [{ schedule: hourly }],
        });
        expect((await runs(d.id)).map((r) => r.id).sort()).toEqual(before);
        await deploy([{ schedule: hourly }], { parameters: { a: 2 }, work_pool_name: "other" });
        expect(await runs(d.id)).toEqual([]);
        await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
        const after = await runs(d.id);
        expect(after.length).toBe(3);
        for (const run of after) {
          expect(run.parameters).toEqual({ a: 2 });
          expect(run.work_pool_name).toBe("other");
        }
        // Edited by hand (the UI): the same.
        await store.updateDeploymentFields(d.id, { parameters: { a: 3 } });
        await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
        expect((await runs(d.id)).map((r) => r.parameters)).toEqual([{ a: 3 }, { a: 3 }, { a: 3 }]);
      });

      test("a minutely schedule gets an hour of runs; the horizon caps sparse ones", async () => {
        const d = await deploy([{ schedule: { cron: "* * * * *", timezone: "UTC", day_or: true } }]);
        await schedulePass(store, DEFAULT_SETTINGS, { now: T0 });
        expect((await runs(d.id)).length).toBe(61);
      });

      test("is idempotent: a second pass creates nothing", async () => {
        await deploy([{ schedule: hourly }]);
        await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
        const again = await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
        expect(again.created).toBe(0);
        expect(again.schedulesChecked).toBe(0);
      });

      test("two scheduler processes racing on one database never create duplicates", async () => {
        const d = await deploy([{ schedule: hourly }]);
        const worker = join(import.meta.dir, "race-worker.ts");
        const procs = [0, 1, 2].map(() =>
          Bun.spawn([process.execPath, worker, store.url, String(T0 + 1)], {
            stdout: "pipe",
            stderr: "inherit",
          }),
        );
        const created = await Promise.all(
          procs.map(async (p) => Number((await new Response(p.stdout).text()).trim())),
        );
        expect(created.reduce((a, b) => a + b, 0)).toBe(3);
        expect((await runs(d.id)).length).toBe(3);
      });

      test("pausing a schedule removes its unstarted runs; resuming schedules anew from now", async () => {
        const d = await deploy([{ schedule: hourly }]);
        await schedulePass(store, DEFAULT_SETTINGS, { now: Date.now() });
        const s = d.schedules[0]!;
        await store.setScheduleActive(d.id, s.id, false);
        expect(await scheduledTimes(d.id)).toEqual([]);
        expect((await schedulePass(store, DEFAULT_SETTINGS)).created).toBe(0);
        await store.setScheduleActive(d.id, s.id, true);
        expect((await schedulePass(store, DEFAULT_SETTINGS)).created).toBe(3);
      });

      test("changing a schedule on redeploy replaces its unstarted runs; an unchanged one keeps them", async () => {
        const d = await deploy([{ schedule: hourly }]);
        await schedulePass(store, DEFAULT_SETTINGS);
        const before = await scheduledTimes(d.id);
        await deploy([{ schedule: hourly }]);
        expect(await scheduledTimes(d.id)).toEqual(before);
        await deploy([{ schedule: { cron: "30 * * * *", timezone: "UTC", day_or: true } }]);
        expect(await scheduledTimes(d.id)).toEqual([]);
        await schedulePass(store, DEFAULT_SETTINGS);
        for (const t of await scheduledTimes(d.id)) expect(t).toMatch(/:30:00\.000Z$/);
      });

      test("a schedule replaced between a pass's read and its insert gets no runs of its old self", async () => {
        const d = await deploy([{ schedule: hourly }]);
        const now = Date.now();
        const at = new Date(now).toISOString();
        const candidates = await store.scheduleCandidates({
          now: at,
          minRuns: 3,
          minEnd: new Date(now + HOUR).toISOString(),
        });
        expect(candidates.map((c) => c.deployment_id)).toEqual([d.id]);
        const versions = new Map(candidates.map((c) => [c.id, c.updated]));
        const row = (i: number, scheduleId: string) =>
          scheduledRow(d.id, candidates[0]!.flow_id, scheduleId, now + (i + 1) * HOUR, `r-${i}`);
        const old = candidates[0]!.id;
        // Meanwhile: the schedule is replaced (set-schedule), then another is changed in place.
        await store.replaceSchedules(d.id, [{ schedule: { interval: 60 } }]);
        expect(await store.insertScheduledRuns([row(0, old), row(1, old)], at, versions)).toBe(0);
        const [current] = (await store.getDeployment(d.id)).schedules;
        const fresh = new Map([[current!.id, current!.updated]]);
        expect(await store.insertScheduledRuns([row(2, current!.id)], at, fresh)).toBe(1);
        await store.replaceSchedules(d.id, [{ schedule: { interval: 60 }, parameters: { b: 3 } }]);
        expect(await store.insertScheduledRuns([row(3, current!.id)], at, fresh)).toBe(0);
        await store.setScheduleActive(d.id, current!.id, false);
        const paused = (await store.getDeployment(d.id)).schedules[0]!;
        expect(
          await store.insertScheduledRuns([row(4, current!.id)], at, new Map([[paused.id, paused.updated]])),
        ).toBe(0);
        expect((await runs(d.id)).filter((r) => r.state.type === "SCHEDULED")).toEqual([]);
        // Runs an older version left for a schedule that is gone go when every schedule is removed.
        expect(await store.insertScheduledRuns([row(5, "01a00000-0000-7000-8000-00000000dead")], at)).toBe(1);
        // One waiting to retry has started (its engine waits in its process): it stays.
        const retrying = { ...row(6, paused.id), stateName: "AwaitingRetry" };
        expect(await store.insertScheduledRuns([retrying], at)).toBe(1);
        await store.deleteSchedules(d.id);
        expect((await runs(d.id)).filter((r) => r.state.type === "SCHEDULED").map((r) => r.id)).toEqual([
          retrying.id,
        ]);
      });

      test("a deployment paused between a pass's read and its insert gets none of its runs", async () => {
        const d = await deploy([{ schedule: hourly }]);
        for (const pause of [
          () => store.setDeploymentPaused(d.id, true),
          () => store.setScheduleActiveForDeployment(d.id, false),
        ]) {
          const now = Date.now();
          const candidates = await store.scheduleCandidates({
            now: new Date(now).toISOString(),
            minRuns: 3,
            minEnd: new Date(now + HOUR).toISOString(),
          });
          expect(candidates.map((c) => c.deployment_id)).toEqual([d.id]);
          const versions = new Map(candidates.map((c) => [c.id, c.updated]));
          const at = new Date(now).toISOString();
          await pause();
          const rows = [
            scheduledRow(d.id, candidates[0]!.flow_id, candidates[0]!.id, now + HOUR, "late-insert"),
          ];
          expect(await store.insertScheduledRuns(rows, at, versions)).toBe(0);
          await store.setDeploymentPaused(d.id, false);
          await store.setScheduleActiveForDeployment(d.id, true);
        }
        expect(await runs(d.id)).toEqual([]);
      });

      test("redeploying does not re-activate a schedule the user paused; schedules: [] removes all", async () => {
        const d = await deploy([{ schedule: hourly }]);
        await store.setScheduleActive(d.id, d.schedules[0]!.id, false);
        const again = await deploy([{ schedule: hourly }]);
        expect(again.schedules.map((s) => s.active)).toEqual([false]);
        const kept = await deploy(undefined);
        expect(kept.schedules.length).toBe(1);
        expect((await deploy([])).schedules).toEqual([]);
      });

      test("a paused deployment or a switched-off deployment schedule gets no runs", async () => {
        const d = await deploy([{ schedule: hourly }]);
        await store.setScheduleActiveForDeployment(d.id, false);
        expect((await schedulePass(store, DEFAULT_SETTINGS)).created).toBe(0);
        await store.setScheduleActiveForDeployment(d.id, true);
        await store.setDeploymentPaused(d.id, true);
        expect((await schedulePass(store, DEFAULT_SETTINGS)).created).toBe(0);
      });

      test("runs not started 15 s after their time are marked Late", async () => {
        const d = await deploy([{ schedule: hourly }]);
        await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
        const r = await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + HOUR + 16_000 });
        expect(r.late).toBe(1);
        const late = (await runs(d.id)).find((x) => x.expected_start_time === "2030-01-01T01:00:00.000Z")!;
        expect([late.state.type, late.state.name]).toEqual(["SCHEDULED", "Late"]);
        expect((await store.listFlowRunStates(late.id)).map((s) => s.name)).toEqual(["Scheduled", "Late"]);
      });

      describe("catch-up after an outage", () => {
        // Runs exist up to 03:00; the server comes back at 06:00:30, so 01:00..06:00 were missed.
        async function outage(catchup: "all" | "latest" | "none") {
          const d = await deploy([{ schedule: hourly }], { catchup });
          await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
          await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 6 * HOUR + 30_000 });
          const all = await runs(d.id);
          const byTime = (t: string) =>
            all.find((x) => x.expected_start_time === `2030-01-01T${t}:00:00.000Z`)!;
          return { all, byTime };
        }

        test("all: every missed run (also those never created) is kept to run", async () => {
          const { all, byTime } = await outage("all");
          for (const t of ["01", "02", "03", "04", "05", "06"])
            expect(byTime(t).state.type).toBe("SCHEDULED");
          expect(all.filter((r) => r.state.type === "CANCELLED")).toEqual([]);
        });

        test("latest: only the most recent missed run is kept", async () => {
          const { byTime } = await outage("latest");
          for (const t of ["01", "02", "03", "04", "05"]) {
            expect(byTime(t).state.type).toBe("CANCELLED");
            expect(byTime(t).state.message).toContain(
              "catchup policy latest runs only the most recent missed run",
            );
          }
          expect(byTime("06").state.type).toBe("SCHEDULED");
        });

        test("latest, after more missed times than a pass makes: the run kept is the most recent one", async () => {
          const d = await deploy([{ schedule: { interval: 60, anchor_date: "2020-01-01T00:00:00.000Z" } }], {
            catchup: "latest",
          });
          await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
          const back = T0 + 3 * HOUR + 30_000;
          await schedulePass(store, DEFAULT_SETTINGS, { now: back });
          const kept = (await runs(d.id)).filter(
            (r) => r.state.type === "SCHEDULED" && Date.parse(r.expected_start_time!) < back,
          );
          expect(kept.map((r) => r.expected_start_time)).toEqual(["2030-01-01T03:00:00.000Z"]);
        });

        test("a run waiting to retry was not missed: no catch-up policy cancels it", async () => {
          const d = await deploy([{ schedule: hourly }], { catchup: "none" });
          await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1 });
          const [first] = (await runs(d.id)).sort((a, b) =>
            a.expected_start_time! < b.expected_start_time! ? -1 : 1,
          );
          await store.setFlowRunState(first!.id, { type: "RUNNING" });
          await store.setFlowRunState(first!.id, {
            type: "SCHEDULED",
            name: "AwaitingRetry",
            scheduledTime: new Date(T0 + HOUR + 60_000).toISOString(),
          });
          await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 6 * HOUR + 30_000 });
          const after = await store.getFlowRun(first!.id);
          expect([after.state.type, after.state.name]).toEqual(["SCHEDULED", "AwaitingRetry"]);
        });

        test("none: every missed run is skipped, saying why", async () => {
          const { byTime, all } = await outage("none");
          for (const t of ["01", "02", "03", "04", "05", "06"])
            expect(byTime(t).state.message).toContain("catchup policy is none");
          expect(
            all
              .filter((r) => r.state.type === "SCHEDULED")
              .every((r) => Date.parse(r.expected_start_time!) > T0 + 6 * HOUR),
          ).toBe(true);
        });
      });
    });

    describe("rrules that used to stall a pass", () => {
      // Before DTSTART was moved forward, rrule.js walked every minute since 2020 on every pass
      // (about 20 s each time); this test's 5 s limit would end it.
      test("FREQ=MINUTELY gets its hour of runs without walking every minute since 2020", async () => {
        const expander = new DateExpander(1000);
        try {
          const d = await deploy([{ schedule: { rrule: "RRULE:FREQ=MINUTELY", timezone: "Europe/Berlin" } }]);
          const r = await schedulePass(store, DEFAULT_SETTINGS, { now: T0, expander });
          expect(r.failed).toBe(0);
          const times = await scheduledTimes(d.id);
          expect(times.length).toBe(61);
          expect(times[0]).toBe("2030-01-01T00:00:00.000Z");
          expect(times[60]).toBe("2030-01-01T01:00:00.000Z");
        } finally {
          expander.close();
        }
      });
    });

    describe("a schedule that cannot be computed", () => {
      // Rows an older version stored without today's checks, written straight to the store.
      const broken = [
        { rrule: "RRULE:FREQ=SECONDLY", timezone: "UTC" },
        { rrule: "RRULE:FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30", timezone: "UTC" },
        { rrule: "RRULE:FREQ=NOPE", timezone: "UTC" },
      ];

      test.each(broken)(
        "is skipped with its error while the other deployments keep their runs: %p",
        async (spec) => {
          const expander = new DateExpander(200);
          try {
            const bad = await deploy([{ schedule: spec }], { name: "bad" });
            const good = await deploy([{ schedule: hourly }], { name: "good" });
            const r = await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1, expander });
            expect(r.failed).toBe(1);
            expect((await runs(good.id)).length).toBe(3);
            expect((await runs(bad.id)).length).toBe(0);
            const [s] = (await store.getDeployment(bad.id)).schedules;
            expect(s?.error).toStartWith("the scheduler could not compute this schedule's runs: ");
            // the next pass still schedules the good one, and the error stays recorded
            const later = await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 3 * HOUR, expander });
            expect(later.failed).toBe(1);
            expect((await runs(good.id)).length).toBeGreaterThan(3);
          } finally {
            expander.close();
          }
        },
      );

      test("its error is cleared once it can be computed again", async () => {
        const expander = new DateExpander(200);
        try {
          const d = await deploy([{ schedule: broken[2]!, slug: "s" }]);
          await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1, expander });
          expect((await store.getDeployment(d.id)).schedules[0]?.error).not.toBeNull();
          await store.replaceSchedules(d.id, [{ schedule: hourly, slug: "s" }]);
          await schedulePass(store, DEFAULT_SETTINGS, { now: T0 + 1, expander });
          const [s] = (await store.getDeployment(d.id)).schedules;
          expect(s?.error).toBeNull();
          expect((await runs(d.id)).length).toBe(3);
        } finally {
          expander.close();
        }
      });
    });
  });
}
