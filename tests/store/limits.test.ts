// What a claim gives out, on both backends: queues by priority, runs by time within a queue, and
// every concurrency limit (pool, queue, deployment with ENQUEUE / CANCEL_NEW, schedule
// max_active_runs, tags) never exceeded. Racing claims from separate processes are in
// tests/e2e/limits.test.ts.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type * as q from "../../core/store/index.ts";
import { scheduledRunRow } from "../helpers.ts";
import { backends, type TestStore } from "./backends.ts";

for (const backend of backends()) {
  describe(`${backend.name}`, () => {
    let store: TestStore;
    beforeEach(async () => {
      store = await backend.open();
      await store.createWorkPool({ name: "local" });
    });
    afterEach(() => store.dispose());

    const deploy = (name = "daily", extra: Partial<q.DeploymentInput> = {}) =>
      store.upsertDeployment({ flow_name: "hello", name, work_pool_name: "local", ...extra });
    let clock = Date.now() - 3_600_000;
    /** A due run, each one scheduled a second after the one before. */
    const run = async (deploymentId: string, extra: Partial<q.FlowRunInput> = {}) => {
      const { deployment } = { deployment: await store.getDeployment(deploymentId) };
      clock += 1000;
      return store.createFlowRun({
        flow_id: deployment.flow_id,
        deployment_id: deployment.id,
        work_pool_name: "local",
        work_queue_name: "default",
        state: { type: "SCHEDULED", scheduledTime: new Date(clock).toISOString() },
        ...extra,
      });
    };
    const claim = (limit = 10, pool = "local", queues: string[] = []) =>
      store.claimFlowRuns({ workPoolName: pool, queues, agentId: "agent", limit });
    const finish = (id: string) =>
      store
        .setFlowRunState(id, { type: "RUNNING" })
        .then(() => store.setFlowRunState(id, { type: "COMPLETED" }));

    describe("priority", () => {
      test("queues are served by priority, lower first, and by scheduled time within a queue", async () => {
        await store.createWorkQueue("local", "low", { priority: 5 });
        await store.createWorkQueue("high", "high", {}).catch(() => {}); // no such pool: ignored
        await store.createWorkQueue("local", "high", { priority: 1 });
        const { deployment } = await deploy();
        const low1 = await run(deployment.id, { work_queue_name: "low" });
        const low2 = await run(deployment.id, { work_queue_name: "low" });
        const def = await run(deployment.id, { work_queue_name: "default" });
        const high1 = await run(deployment.id, { work_queue_name: "high" });
        const high2 = await run(deployment.id, { work_queue_name: "high" });
        const order: string[] = [];
        for (let i = 0; i < 5; i++) order.push(...(await claim(1)).map((r) => r.id));
        expect(order).toEqual([high1.id, high2.id, def.id, low1.id, low2.id]);
      });

      test("a priority taken moves the queues at and after it down, keeping them unique", async () => {
        await store.createWorkQueue("local", "b"); // first gap: 2
        await store.createWorkQueue("local", "d", { priority: 4 });
        await store.createWorkQueue("local", "top", { priority: 1 });
        const queues = (await store.getWorkPool("local")).queues.map((x) => [x.name, x.priority]);
        expect(queues).toEqual([
          ["top", 1],
          ["default", 2],
          ["b", 3],
          ["d", 4],
        ]);
        await store.updateWorkQueue("local", "d", { priority: 2 });
        expect((await store.getWorkPool("local")).queues.map((x) => `${x.name}:${x.priority}`)).toEqual([
          "top:1",
          "d:2",
          "default:3",
          "b:4",
        ]);
      });
    });

    describe("pool and queue limits", () => {
      test("a pool's limit counts its pending and running runs in every queue", async () => {
        await store.updateWorkPool("local", { concurrency_limit: 2 });
        await store.createWorkQueue("local", "other");
        const { deployment } = await deploy();
        const a = await run(deployment.id);
        await run(deployment.id, { work_queue_name: "other" });
        await run(deployment.id);
        expect((await claim(10)).length).toBe(2);
        expect(await claim(10)).toEqual([]);
        await finish(a.id);
        expect((await claim(10)).length).toBe(1);
        expect(await claim(10)).toEqual([]);
      });

      test("a queue's limit holds its runs back and lets the next queue's through; a paused queue gives none", async () => {
        await store.updateWorkQueue("local", "default", { concurrency_limit: 1 });
        await store.createWorkQueue("local", "later", { priority: 2 });
        const { deployment } = await deploy();
        const d1 = await run(deployment.id);
        await run(deployment.id);
        const l1 = await run(deployment.id, { work_queue_name: "later" });
        expect((await claim(10)).map((r) => r.id)).toEqual([d1.id, l1.id]);
        const l2 = await run(deployment.id, { work_queue_name: "later" });
        await store.updateWorkQueue("local", "later", { is_paused: true });
        expect(await claim(10)).toEqual([]);
        await store.updateWorkQueue("local", "later", { is_paused: false });
        expect((await claim(10)).map((r) => r.id)).toEqual([l2.id]);
      });

      test("a paused pool gives nothing", async () => {
        const { deployment } = await deploy();
        await run(deployment.id);
        await store.setWorkPoolPaused("local", true);
        expect(await claim(10)).toEqual([]);
      });
    });

    describe("deployment concurrency_limit", () => {
      test("ENQUEUE: runs past the limit wait, named AwaitingConcurrencySlot, and start when a slot frees", async () => {
        const { deployment } = await deploy("daily", {
          concurrency_limit: { limit: 1, collision_strategy: "ENQUEUE" },
        });
        const first = await run(deployment.id);
        const second = await run(deployment.id);
        await run(deployment.id);
        expect((await claim(10)).map((r) => r.id)).toEqual([first.id]);
        const waiting = await store.getFlowRun(second.id);
        expect(waiting.state.type).toBe("SCHEDULED");
        expect(waiting.state.name).toBe("AwaitingConcurrencySlot");
        expect(waiting.state.message).toBe("Deployment concurrency limit reached (1 of 1 running)");
        expect(await claim(10)).toEqual([]);
        // Waiting again is not written again.
        expect((await store.listFlowRunStates(second.id)).map((s) => s.name)).toEqual([
          "Scheduled",
          "AwaitingConcurrencySlot",
        ]);
        await finish(first.id);
        expect((await claim(10)).map((r) => r.id)).toEqual([second.id]);
      });

      test("CANCEL_NEW: runs past the limit end CANCELLED with the reason", async () => {
        const { deployment } = await deploy("daily", {
          concurrency_limit: { limit: 2, collision_strategy: "CANCEL_NEW" },
        });
        const ids = [];
        for (let i = 0; i < 4; i++) ids.push((await run(deployment.id)).id);
        expect((await claim(10)).map((r) => r.id)).toEqual(ids.slice(0, 2));
        for (const id of ids.slice(2)) {
          const r = await store.getFlowRun(id);
          expect(r.state.type).toBe("CANCELLED");
          expect(r.state.message).toBe("Deployment concurrency limit reached (2 of 2 running)");
        }
      });

      test("other deployments' runs go past one that waits", async () => {
        const { deployment: limited } = await deploy("limited", {
          concurrency_limit: { limit: 1, collision_strategy: "ENQUEUE" },
        });
        const { deployment: free } = await deploy("free");
        const a = await run(limited.id);
        await run(limited.id);
        const c = await run(free.id);
        expect((await claim(10)).map((r) => r.id)).toEqual([a.id, c.id]);
      });
    });

    describe("schedule max_active_runs and tag limits", () => {
      test("a schedule's max_active_runs bounds its own runs only", async () => {
        const { deployment } = await deploy("daily", {
          schedules: [{ schedule: { interval: 3600 }, max_active_runs: 1 }],
        });
        const [schedule] = deployment.schedules;
        expect(schedule!.max_active_runs).toBe(1);
        const base = await store.getDeployment(deployment.id);
        const at = new Date(Date.now() - 60_000).toISOString();
        const rows = [1, 2].map((i) =>
          scheduledRunRow({
            id: `01a00000-0000-7000-8000-00000000000${i}`,
            created: at,
            name: `scheduled-${i}`,
            flowId: base.flow_id,
            deploymentId: base.id,
            scheduleId: schedule!.id,
            time: at,
            idempotencyKey: `test-${i}`,
          }),
        );
        await store.insertScheduledRuns(rows, at);
        const manual = await run(deployment.id);
        const got = (await claim(10)).map((r) => r.id);
        expect(got).toEqual([manual.id, rows[0]!.id]); // by scheduled time: the manual run is older
        const held = await store.getFlowRun(rows[1]!.id);
        expect(held.state.name).toBe("AwaitingConcurrencySlot");
        expect(held.state.message).toBe("The schedule's max_active_runs is reached (1 of 1 running)");
      });

      test("a tag's limit counts runs carrying it across deployments and pools", async () => {
        await store.createWorkPool({ name: "second" });
        await store.setConcurrencyLimit("db", 1);
        const { deployment: a } = await deploy("a");
        const { deployment: b } = await deploy("b", { work_pool_name: "second" });
        const first = await run(a.id, { tags: ["db", "x"] });
        const blocked = await run(b.id, { tags: ["db"], work_pool_name: "second" });
        const untagged = await run(b.id, { tags: ["x"], work_pool_name: "second" });
        expect((await claim(10)).map((r) => r.id)).toEqual([first.id]);
        expect((await claim(10, "second")).map((r) => r.id)).toEqual([untagged.id]);
        expect((await store.getFlowRun(blocked.id)).state.message).toBe(
          'Concurrency limit for tag "db" reached (1 of 1 running)',
        );
        expect((await store.listConcurrencyLimits()).map((l) => [l.tag, l.limit, l.active])).toEqual([
          ["db", 1, 1],
        ]);
        await finish(first.id);
        expect((await claim(10, "second")).map((r) => r.id)).toEqual([blocked.id]);
        await store.deleteConcurrencyLimit("db");
        await expect(store.getConcurrencyLimit("db")).rejects.toThrow(/weir concurrency-limit create db N/);
      });
    });

    describe("backlogs longer than a claim's page (100 runs)", () => {
      const states = async (id: string) => (await store.listFlowRunStates(id)).map((x) => x.name);

      test("runs behind full tag and deployment limits neither hide the runs after them nor are marked twice", async () => {
        await store.setConcurrencyLimit("db", 1);
        const { deployment: tagged } = await deploy("tagged");
        const { deployment: limited } = await deploy("limited", {
          concurrency_limit: { limit: 1, collision_strategy: "ENQUEUE" },
        });
        const { deployment: free } = await deploy("free");
        const byTag = [];
        for (let i = 0; i < 110; i++) byTag.push(await run(tagged.id, { tags: ["db"] }));
        const byDeployment = [];
        for (let i = 0; i < 130; i++) byDeployment.push(await run(limited.id));
        const after = [await run(free.id), await run(free.id)];
        expect((await claim(10)).map((r) => r.id)).toEqual([
          byTag[0]!.id,
          byDeployment[0]!.id,
          ...after.map((r) => r.id),
        ]);
        const tagWait = await store.getFlowRun(byTag[109]!.id);
        expect([tagWait.state.name, tagWait.state.message]).toEqual([
          "AwaitingConcurrencySlot",
          'Concurrency limit for tag "db" reached (1 of 1 running)',
        ]);
        const deploymentWait = await store.getFlowRun(byDeployment[129]!.id);
        expect([deploymentWait.state.name, deploymentWait.state.message]).toEqual([
          "AwaitingConcurrencySlot",
          "Deployment concurrency limit reached (1 of 1 running)",
        ]);
        expect(await claim(10)).toEqual([]);
        for (const r of [...byTag.slice(1), ...byDeployment.slice(1)])
          expect(await states(r.id)).toEqual(["Scheduled", "AwaitingConcurrencySlot"]);
        await finish(byDeployment[0]!.id);
        expect((await claim(10)).map((r) => r.id)).toEqual([byDeployment[1]!.id]);
      });

      test("CANCEL_NEW ends the whole backlog past the limit in one claim", async () => {
        const { deployment } = await deploy("daily", {
          concurrency_limit: { limit: 1, collision_strategy: "CANCEL_NEW" },
        });
        const { deployment: free } = await deploy("free");
        const ids = [];
        for (let i = 0; i < 120; i++) ids.push((await run(deployment.id)).id);
        const after = await run(free.id);
        expect((await claim(10)).map((r) => r.id)).toEqual([ids[0]!, after.id]);
        for (const id of ids.slice(1)) expect(await states(id)).toEqual(["Scheduled", "Cancelled"]);
        expect((await store.getFlowRun(ids[119]!)).state.message).toBe(
          "Deployment concurrency limit reached (1 of 1 running)",
        );
      });

      test("a full queue's backlog does not hold back the next queue", async () => {
        await store.createWorkQueue("local", "high", { priority: 1, concurrency_limit: 1 });
        const { deployment } = await deploy();
        const high = [];
        for (let i = 0; i < 120; i++) high.push(await run(deployment.id, { work_queue_name: "high" }));
        const low = await run(deployment.id, { work_queue_name: "default" });
        expect((await claim(10)).map((r) => r.id)).toEqual([high[0]!.id, low.id]);
        expect(await states(high[1]!.id)).toEqual(["Scheduled"]); // a full queue's runs just wait
        await finish(high[0]!.id);
        expect((await claim(10)).map((r) => r.id)).toEqual([high[1]!.id]);
      });
    });

    describe("what a review found", () => {
      test("a run of a pool made without a queue is the default queue's: its limit and pause apply", async () => {
        const { deployment } = await deploy();
        const a = await store.createFlowRun({ flow_id: deployment.flow_id, work_pool_name: "local" });
        expect(a.work_queue_name).toBe("default");
        await store.updateWorkQueue("local", "default", { is_paused: true });
        expect(await claim(10)).toEqual([]);
        expect(await claim(10, "local", ["default"])).toEqual([]);
        await store.updateWorkQueue("local", "default", { is_paused: false });
        expect((await claim(10, "local", ["default"])).map((r) => r.id)).toEqual([a.id]);
      });

      test("scheduled times with an offset are stored in UTC, so they compare and order right", async () => {
        const { deployment } = await deploy();
        const r = await store.createFlowRun({
          flow_id: deployment.flow_id,
          work_pool_name: "local",
          state: { type: "SCHEDULED", scheduledTime: "2026-01-01T09:00:00-05:00" },
        });
        expect(r.next_scheduled_start_time).toBe("2026-01-01T14:00:00.000Z");
      });

      test("a retrying run of a silent agent crashes; a retried run takes no report from the old claim", async () => {
        const { deployment } = await deploy();
        const r = await run(deployment.id);
        await store.heartbeat({ id: "gone", name: "gone", work_pool_name: "local", work_queues: [] });
        await store.claimFlowRuns({ workPoolName: "local", queues: [], agentId: "gone", limit: 1 });
        const held = await store.getFlowRun(r.id);
        const holder = held.agent_id!;
        await store.setFlowRunState(r.id, { type: "RUNNING" });
        await store.setFlowRunState(r.id, { type: "SCHEDULED", name: "AwaitingRetry" });
        await store.sweepOrphanedRuns(new Date(Date.now() + 60_000).toISOString());
        expect((await store.getFlowRun(r.id)).state.type).toBe("CRASHED");
        await store.retryFlowRun(r.id);
        const late = await store
          .setFlowRunState(r.id, { type: "RUNNING" }, { agentId: holder })
          .catch((e) => e);
        expect(late.code).toBe("CONFLICT");
        expect(late.message).toContain("it waits to be claimed again");
      });

      test("runs claimed for an agent that hung up go back to the queue", async () => {
        const { deployment } = await deploy();
        const r = await run(deployment.id);
        const [got] = await store.claimFlowRuns({
          workPoolName: "local",
          queues: [],
          agentId: "x",
          limit: 1,
        });
        expect(got!.id).toBe(r.id);
        expect(await store.releaseClaims("x", [r.id])).toBe(1);
        const back = await store.getFlowRun(r.id);
        expect([back.state.type, back.agent_id]).toEqual(["SCHEDULED", null]);
        expect((await claim(1)).map((x) => x.id)).toEqual([r.id]);
      });
    });

    describe("claims that start their runs (flows in the agent's process, or handed to its waiting executors)", () => {
      const startClaim = (agentId = "inside") =>
        store.claimFlowRuns({ workPoolName: "local", queues: [], agentId, limit: 10, start: true });

      test("the run is RUNNING at once, its first attempt counted, with PENDING before it in its history", async () => {
        const { deployment } = await deploy();
        const r = await run(deployment.id);
        const [got] = await startClaim();
        expect([got!.id, got!.state.type, got!.run_count, got!.agent_id]).toEqual([
          r.id,
          "RUNNING",
          1,
          "inside",
        ]);
        expect(got!.start_time).not.toBeNull();
        expect((await store.listFlowRunStates(r.id)).map((x) => x.type)).toEqual([
          "SCHEDULED",
          "PENDING",
          "RUNNING",
        ]);
        // It holds its slot as any started run does.
        await store.updateWorkPool("local", { concurrency_limit: 1 });
        await run(deployment.id);
        expect(await startClaim()).toEqual([]);
      });

      test("one whose answer was lost is handed to its agent again; one its agent hung up on goes back, uncounted", async () => {
        const { deployment } = await deploy();
        const lost = await run(deployment.id);
        await startClaim();
        // An agent that does not start its runs is not handed RUNNING ones (its own processes report).
        expect(await store.unclaimedByAgent("inside", [])).toEqual([]);
        expect((await store.unclaimedByAgent("inside", [], { started: true })).map((x) => x.id)).toEqual([
          lost.id,
        ]);
        expect(await store.unclaimedByAgent("inside", [lost.id], { started: true })).toEqual([]);
        // Only the pool the claim is for.
        expect(
          (
            await store.unclaimedByAgent("inside", [], { started: true, workPoolName: lost.work_pool_name! })
          ).map((x) => x.id),
        ).toEqual([lost.id]);
        expect(
          await store.unclaimedByAgent("inside", [], { started: true, workPoolName: "another-pool" }),
        ).toEqual([]);
        const dropped = await run(deployment.id);
        await startClaim("gone");
        expect(await store.releaseClaims("gone", [dropped.id])).toBe(1);
        const back = await store.getFlowRun(dropped.id);
        expect([back.state.type, back.agent_id, back.run_count, back.start_time]).toEqual([
          "SCHEDULED",
          null,
          0,
          null,
        ]);
        expect((await startClaim("next")).map((x) => [x.id, x.run_count])).toEqual([[dropped.id, 1]]);
      });

      test("a claim that starts N (its agent's waiting executors) starts the first N chosen; the rest are PENDING", async () => {
        const { deployment } = await deploy();
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) ids.push((await run(deployment.id)).id);
        const got = await store.claimFlowRuns({
          workPoolName: "local",
          queues: [],
          agentId: "warm",
          limit: 3,
          start: 2,
        });
        expect(got.map((x) => [x.id, x.state.type, x.run_count])).toEqual([
          [ids[0]!, "RUNNING", 1],
          [ids[1]!, "RUNNING", 1],
          [ids[2]!, "PENDING", 0],
        ]);
        expect((await store.listFlowRunStates(ids[1]!)).map((x) => x.type)).toEqual([
          "SCHEDULED",
          "PENDING",
          "RUNNING",
        ]);
        expect((await store.listFlowRunStates(ids[2]!)).map((x) => x.type)).toEqual(["SCHEDULED", "PENDING"]);
        // More to start than runs chosen: each chosen run starts. Zero: none does.
        expect(
          (
            await store.claimFlowRuns({
              workPoolName: "local",
              queues: [],
              agentId: "warm",
              limit: 5,
              start: 5,
            })
          ).map((x) => [x.id, x.state.type]),
        ).toEqual([[ids[3]!, "RUNNING"]]);
        const next = await run(deployment.id);
        const [pending] = await store.claimFlowRuns({
          workPoolName: "local",
          queues: [],
          agentId: "warm",
          limit: 5,
          start: 0,
        });
        expect([pending!.id, pending!.state.type]).toEqual([next.id, "PENDING"]);
      });
    });
  });
}
