import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { WeirError } from "../../core/model/index.ts";
import type * as q from "../../core/store/index.ts";
import { openStore } from "../../core/store/index.ts";
import { registry } from "../helpers.ts";

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

    describe("migrations", () => {
      test("a second start on the same file applies nothing and keeps the data", async () => {
        await deploy();
        const again = await openStore({ url: store.url, migrate: false });
        expect(await again.migrate()).toEqual([]);
        expect((await again.listDeployments()).map((d) => d.name)).toEqual(["daily"]);
        await again.close();
      });

      test("the embedded database and its WAL are readable by their owner only", async () => {
        if (backend.name !== "sqlite") return;
        const { statSync, chmodSync } = await import("node:fs");
        const path = store.url.replace(/^file:/, "");
        await deploy();
        for (const f of [path, `${path}-wal`]) expect((statSync(f).mode & 0o777).toString(8)).toBe("600");
        // One an older build left readable by others is made private when opened.
        chmodSync(path, 0o644);
        const again = await openStore({ url: store.url, migrate: false });
        expect((statSync(path).mode & 0o777).toString(8)).toBe("600");
        await again.close();
      });

      test("a database a newer build migrated is refused before anything is written, saying what to do", async () => {
        if (backend.name === "sqlite") {
          const { Database } = await import("bun:sqlite");
          const db = new Database(store.url.replace(/^file:/, ""));
          db.run("INSERT INTO __weir_migrations (id, applied_at) VALUES ('9999_future', 'x')");
          db.close();
        } else {
          const { SQL } = await import("bun");
          const sql = new SQL(store.url);
          await sql`INSERT INTO __weir_migrations (id, applied_at) VALUES ('9999_future', 'x')`;
          await sql.close();
        }
        const refused = await openStore({ url: store.url }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(refused).toBeInstanceOf(WeirError);
        expect((refused as WeirError).message).toContain(
          "This database was migrated by a newer Weir: it has migration 9999_future, which this build does not know",
        );
      });
    });

    describe("deployments", () => {
      test("re-deploying keeps the id and creation time and replaces the fields", async () => {
        const first = await deploy("daily", { parameters: { name: "A" } });
        await Bun.sleep(5);
        const second = await deploy("daily", { parameters: { name: "B" }, tags: ["x"] });
        expect(first.created).toBe(true);
        expect(second.created).toBe(false);
        expect(second.deployment.id).toBe(first.deployment.id);
        expect(second.deployment.created).toBe(first.deployment.created);
        expect(second.deployment.parameters).toEqual({ name: "B" });
        expect(second.deployment.tags).toEqual(["x"]);
        expect(second.deployment.updated > first.deployment.updated).toBe(true);
      });

      test("a redeploy that does not say paused keeps a deployment paused by hand; one that says so changes it", async () => {
        await deploy();
        await store.setDeploymentPaused("hello/daily", true);
        expect((await deploy()).deployment.paused).toBe(true);
        expect((await deploy("daily", { paused: false })).deployment.paused).toBe(false);
        expect((await deploy("fresh")).deployment.paused).toBe(false);
      });

      test("is found by FLOW/NAME or id, and a missing one names how to list them", async () => {
        const { deployment } = await deploy();
        expect((await store.getDeployment("hello/daily")).id).toBe(deployment.id);
        expect((await store.getDeployment(deployment.id)).name).toBe("daily");
        await expect(store.getDeployment("hello/nope")).rejects.toThrow(/weir deployment ls/);
      });

      test("deleting one deletes its scheduled runs and keeps the others, no longer linked to it", async () => {
        const { deployment } = await deploy();
        const flow = await store.upsertFlow("hello");
        const make = () => store.createFlowRun({ flow_id: flow.id, deployment_id: deployment.id });
        const [scheduled, started, retrying, done] = [await make(), await make(), await make(), await make()];
        await store.setFlowRunState(started!.id, { type: "RUNNING" });
        await store.setFlowRunState(retrying!.id, { type: "RUNNING" });
        await store.setFlowRunState(retrying!.id, { type: "SCHEDULED", name: "AwaitingRetry" });
        await store.setFlowRunState(done!.id, { type: "RUNNING" });
        await store.setFlowRunState(done!.id, { type: "COMPLETED" });
        await store.deleteDeployment(deployment.id);
        await expect(store.getFlowRun(scheduled!.id)).rejects.toThrow(/does not exist/);
        for (const kept of [started!, retrying!, done!]) {
          const after = await store.getFlowRun(kept.id);
          expect(after.deployment_id).toBeNull();
          expect(after.deployment_name).toBeNull();
        }
      });

      test("the same deployment name under two flows is two deployments", async () => {
        await deploy("daily");
        await store.upsertDeployment({ flow_name: "other", name: "daily" });
        expect((await store.listDeployments()).map((d) => `${d.flow_name}/${d.name}`)).toEqual([
          "hello/daily",
          "other/daily",
        ]);
      });
    });

    describe("servers", () => {
      test("a server is live from its first sign of life until it says it is gone or falls silent", async () => {
        const before = new Date(Date.now() - 1000).toISOString();
        await store.serverSeen({ id: "s1", host: "h", pid: 11 });
        await store.serverSeen({ id: "s2", host: "h", pid: 12 });
        await store.serverSeen({ id: "s1", host: "h", pid: 11 });
        expect((await store.liveServers(before)).map((x) => x.pid).sort()).toEqual([11, 12]);
        await store.serverGone("s2");
        expect((await store.liveServers(before)).map((x) => x.id)).toEqual(["s1"]);
        expect(await store.liveServers(new Date(Date.now() + 1000).toISOString())).toEqual([]);
      });
    });

    describe("flow run states", () => {
      const newRun = async () => {
        const { deployment } = await deploy();
        return store.createFlowRun({
          flow_id: deployment.flow_id,
          deployment_id: deployment.id,
          work_pool_name: "local",
          work_queue_name: "default",
        });
      };

      test("every change is recorded in the run's history, with start and end times", async () => {
        const run = await newRun();
        await store.setFlowRunState(run.id, { type: "PENDING" });
        await store.setFlowRunState(run.id, { type: "RUNNING" });
        const done = await store.setFlowRunState(run.id, { type: "COMPLETED" });
        expect(done.state.type).toBe("COMPLETED");
        expect(done.run_count).toBe(1);
        expect(done.start_time).not.toBeNull();
        expect(done.end_time).not.toBeNull();
        const history = await store.listFlowRunStates(run.id);
        expect(history.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]);
      });

      test("total_run_time is the time spent Running over every attempt, not the waits between them", async () => {
        const run = await newRun();
        await store.setFlowRunState(run.id, { type: "RUNNING" });
        await store.setFlowRunState(run.id, { type: "SCHEDULED", name: "AwaitingRetry" });
        await Bun.sleep(30);
        await store.setFlowRunState(run.id, { type: "RUNNING" });
        await store.setFlowRunState(run.id, { type: "FAILED" });
        await Bun.sleep(30);
        await store.retryFlowRun(run.id);
        await store.setFlowRunState(run.id, { type: "RUNNING" });
        const done = await store.setFlowRunState(run.id, { type: "COMPLETED" });
        const history = await store.listFlowRunStates(run.id);
        let running = 0;
        for (const [i, s] of history.entries())
          if (s.type === "RUNNING")
            running += Date.parse(history[i + 1]!.timestamp) - Date.parse(s.timestamp);
        expect(done.run_count).toBe(3);
        expect(done.total_run_time).toBe(running);
        expect((await store.getFlowRun(run.id)).total_run_time).toBe(running);
      });

      test("task runs still open when their flow run ends end with it, saying so", async () => {
        const ts = new Date().toISOString();
        const task = (id: string, flowRunId: string, type = "RUNNING") => ({
          id,
          flow_run_id: flowRunId,
          name: "long",
          task_key: "long",
          state: { type, name: type === "RUNNING" ? "Running" : "Completed", timestamp: ts },
          start_time: ts,
          end_time: null,
          run_count: 1,
          history: [{ type, name: type === "RUNNING" ? "Running" : "Completed", timestamp: ts }],
        });
        const cancelled = await newRun();
        await store.setFlowRunState(cancelled.id, { type: "RUNNING" });
        const ids = [Bun.randomUUIDv7(), Bun.randomUUIDv7(), Bun.randomUUIDv7()];
        await store.upsertTaskRuns([
          task(ids[0]!, cancelled.id),
          task(ids[1]!, cancelled.id, "COMPLETED"),
        ] as never);
        await store.setFlowRunState(cancelled.id, { type: "CANCELLING" });
        await store.setFlowRunState(cancelled.id, { type: "CANCELLED" });
        const after = await store.listTaskRuns(cancelled.id);
        const open = after.find((t) => t.id === ids[0])!;
        expect(open.state.type).toBe("CANCELLED");
        expect(open.state.message).toBe("its flow run ended Cancelled before it finished");
        expect(open.end_time).not.toBeNull();
        expect(open.history.map((h) => h.type)).toEqual(["RUNNING", "CANCELLED"]);
        expect(after.find((t) => t.id === ids[1])!.state.type).toBe("COMPLETED");
        const crashed = await newRun();
        await store.setFlowRunState(crashed.id, { type: "RUNNING" });
        await store.upsertTaskRuns([task(ids[2]!, crashed.id)] as never);
        await store.setFlowRunState(crashed.id, { type: "FAILED", name: "TimedOut" });
        const [timedOut] = await store.listTaskRuns(crashed.id);
        expect([timedOut!.state.type, timedOut!.state.message]).toEqual([
          "CRASHED",
          "its flow run ended TimedOut before it finished",
        ]);
      });

      test("a run's own token ends with the run, whichever way it ends", async () => {
        const run = await newRun();
        await store.setFlowRunState(run.id, { type: "RUNNING" });
        await store.createToken({
          name: `run-${run.id}`,
          scope: "run",
          hash: "h-run-token",
          flowRunId: run.id,
        });
        expect(await store.findTokenByHash("h-run-token")).toBeDefined();
        // As a sweep of a dead agent's runs ends it: not through the API's state route.
        await store.setFlowRunState(run.id, { type: "CRASHED", message: "its agent stopped heartbeating" });
        expect(await store.findTokenByHash("h-run-token")).toBeUndefined();
      });

      test("a token name is one live token's; revoking by name revokes every live one of that name", async () => {
        await store.createToken({ name: "ci", scope: "deploy", hash: "h-ci-1" });
        const again = await store
          .createToken({ name: "ci", scope: "deploy", hash: "h-ci-2" })
          .catch((e) => e);
        expect(again.code).toBe("CONFLICT");
        await store.revokeToken("ci");
        expect((await store.findTokenByHash("h-ci-1"))?.revoked).toBeTruthy();
        expect((await store.createToken({ name: "ci", scope: "deploy", hash: "h-ci-3" })).name).toBe("ci");
      });

      test("an illegal transition is refused and changes nothing", async () => {
        const run = await newRun();
        await store.setFlowRunState(run.id, { type: "RUNNING" });
        await store.setFlowRunState(run.id, { type: "COMPLETED" });
        const err = await store.setFlowRunState(run.id, { type: "RUNNING" }).catch((e) => e);
        expect(err).toBeInstanceOf(WeirError);
        expect(err.code).toBe("CONFLICT");
        expect((await store.getFlowRun(run.id)).state.type).toBe("COMPLETED");
        expect((await store.listFlowRunStates(run.id)).length).toBe(3);
      });
    });

    describe("claiming", () => {
      test("two agents claiming at once never get the same run", async () => {
        const { deployment } = await deploy();
        for (let i = 0; i < 20; i++) {
          await store.createFlowRun({
            flow_id: deployment.flow_id,
            deployment_id: deployment.id,
            work_pool_name: "local",
            work_queue_name: "default",
          });
        }
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.claimFlowRuns({ workPoolName: "local", queues: ["default"], agentId: `a${i}`, limit: 4 }),
          ),
        );
        const ids = claims.flat().map((r) => r.id);
        expect(ids.length).toBe(20);
        expect(new Set(ids).size).toBe(20);
        for (const r of claims.flat()) expect(r.state.type).toBe("PENDING");
      });

      test("a claim takes no more runs than its limit, oldest first", async () => {
        const { deployment } = await deploy();
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const run = await store.createFlowRun({
            flow_id: deployment.flow_id,
            deployment_id: deployment.id,
            work_pool_name: "local",
            work_queue_name: "default",
            state: {
              type: "SCHEDULED",
              scheduledTime: new Date(Date.now() - 60_000 + i * 1000).toISOString(),
            },
          });
          ids.push(run.id);
        }
        for (const [n, limit] of [
          [0, 1],
          [1, 0],
          [1, 2],
        ] as const) {
          const got = await store.claimFlowRuns({ workPoolName: "local", queues: [], agentId: "a", limit });
          expect(got.map((r) => r.id)).toEqual(ids.slice(n, n + limit));
        }
        expect((await Promise.all(ids.map((id) => store.getFlowRun(id)))).map((r) => r.state.type)).toEqual([
          "PENDING",
          "PENDING",
          "PENDING",
          "SCHEDULED",
          "SCHEDULED",
        ]);
      });

      test("runs scheduled in the future, in other queues, or awaiting a retry are not claimed", async () => {
        const { deployment } = await deploy();
        const base = { flow_id: deployment.flow_id, deployment_id: deployment.id, work_pool_name: "local" };
        await store.createFlowRun({
          ...base,
          work_queue_name: "default",
          state: { type: "SCHEDULED", scheduledTime: new Date(Date.now() + 60_000).toISOString() },
        });
        await store.createFlowRun({ ...base, work_queue_name: "other" });
        await store.createFlowRun({
          ...base,
          work_queue_name: "default",
          state: { type: "SCHEDULED", name: "AwaitingRetry" },
        });
        expect(
          await store.claimFlowRuns({
            workPoolName: "local",
            queues: ["default"],
            agentId: "a",
            limit: 10,
          }),
        ).toEqual([]);
        const other = await store.claimFlowRuns({
          workPoolName: "local",
          queues: ["other"],
          agentId: "a",
          limit: 10,
        });
        expect(other.length).toBe(1);
      });
    });

    describe("work pools", () => {
      test("come with a default queue; a duplicate is a conflict unless asked if missing", async () => {
        const pool = await store.getWorkPool("local");
        expect(pool.queues.map((wq) => wq.name)).toEqual(["default"]);
        await expect(store.createWorkPool({ name: "local" })).rejects.toThrow(/already exists/);
        expect((await store.createWorkPool({ name: "local" }, true)).id).toBe(pool.id);
      });
    });

    describe("agent liveness", () => {
      test("a running run goes back to SCHEDULED only as AwaitingRetry; a cancelling run of a silent agent ends CANCELLED", async () => {
        const { deployment } = await deploy();
        const base = { flow_id: deployment.flow_id, deployment_id: deployment.id, work_pool_name: "local" };
        const run = await store.createFlowRun({ ...base, work_queue_name: "default" });
        await store.heartbeat({ id: "quiet", name: "quiet", work_pool_name: "local", work_queues: [] });
        await store.claimFlowRuns({ workPoolName: "local", queues: [], agentId: "quiet", limit: 1 });
        await store.setFlowRunState(run.id, { type: "RUNNING" });
        const back = await store.setFlowRunState(run.id, { type: "SCHEDULED" }).catch((e) => e);
        expect(back.code).toBe("CONFLICT");
        expect(back.message).toContain("only as AwaitingRetry");
        await store.setFlowRunState(run.id, { type: "SCHEDULED", name: "AwaitingRetry" });
        await store.setFlowRunState(run.id, { type: "RUNNING", name: "Retrying" });
        await store.setFlowRunState(run.id, { type: "CANCELLING" });
        expect(await store.sweepOrphanedRuns(new Date(Date.now() + 1000).toISOString())).toEqual({
          crashed: 1,
        });
        const done = await store.getFlowRun(run.id);
        expect(done.state.type).toBe("CANCELLED");
        expect(done.state.message).toContain('agent "quiet" stopped sending heartbeats before confirming');
      });

      test("runs of an agent that stopped heartbeating crash, started or not: an expired claim is never handed out again", async () => {
        const { deployment } = await deploy();
        const base = {
          flow_id: deployment.flow_id,
          deployment_id: deployment.id,
          work_pool_name: "local",
          work_queue_name: "default",
        };
        await store.createFlowRun(base);
        await store.createFlowRun(base);
        await store.heartbeat({ id: "dead", name: "gone", work_pool_name: "local", work_queues: [] });
        const [a, b] = await store.claimFlowRuns({
          workPoolName: "local",
          queues: ["default"],
          agentId: "dead",
          limit: 2,
        });
        await store.setFlowRunState(b!.id, { type: "RUNNING" });

        // still alive: nothing happens
        expect(await store.sweepOrphanedRuns(new Date(Date.now() - 60_000).toISOString())).toEqual({
          crashed: 0,
        });
        // silent since before the cutoff
        expect(await store.sweepOrphanedRuns(new Date(Date.now() + 1000).toISOString())).toEqual({
          crashed: 2,
        });
        const ra = await store.getFlowRun(a!.id);
        expect(ra.state.type).toBe("CRASHED");
        expect(ra.state.message).toContain("not handed out again in case it had started");
        const rb = await store.getFlowRun(b!.id);
        expect(rb.state.type).toBe("CRASHED");
        expect(rb.state.message).toContain('agent "gone" stopped sending heartbeats');
        // neither is claimed again
        expect(
          (
            await store.claimFlowRuns({
              workPoolName: "local",
              queues: ["default"],
              agentId: "alive",
              limit: 5,
            })
          ).map((r) => r.id),
        ).toEqual([]);
        // Retried on purpose, it is claimed anew; the old claim's holder can report nothing more.
        await store.retryFlowRun(a!.id);
        const [again] = await store.claimFlowRuns({
          workPoolName: "local",
          queues: ["default"],
          agentId: "alive",
          limit: 5,
        });
        expect(again!.id).toBe(a!.id);
        const refused = await store
          .setFlowRunState(a!.id, { type: "RUNNING" }, { agentId: "dead" })
          .catch((e: WeirError) => e);
        expect((refused as WeirError).code).toBe("CONFLICT");
        expect((refused as WeirError).message).toContain("is no longer held by agent dead");
        expect(
          (await store.setFlowRunState(a!.id, { type: "RUNNING" }, { agentId: "alive" })).state.type,
        ).toBe("RUNNING");
      });
    });

    describe("blocks", () => {
      test("a wrong type names the field and what it wants, never the value given", async () => {
        const err = await store
          .saveBlock(registry, "github-credentials", "gh", { token: 987654321 }, false)
          .catch((e) => e);
        expect(err.message).toBe("Invalid github-credentials block: token: expected string");
        expect(err.message).not.toContain("987654321");
      });
      test("unknown and missing fields and unknown types say what is known", async () => {
        expect(
          (await store.saveBlock(registry, "secret", "s", { value: "x", extra: 1 }, false).catch((e) => e))
            .message,
        ).toContain('unknown field "extra" (secret blocks take: value)');
        expect((await store.saveBlock(registry, "secret", "s", {}, false).catch((e) => e)).message).toBe(
          'Invalid secret block: missing field "value" (secret blocks take: value)',
        );
        expect((await store.saveBlock(registry, "vault", "s", {}, false).catch((e) => e)).message).toContain(
          'Block type "vault" is not known',
        );
      });
      test("a block is not replaced unless asked", async () => {
        await store.saveBlock(registry, "string", "s", { value: "a" }, false);
        expect(
          (await store.saveBlock(registry, "string", "s", { value: "b" }, false).catch((e) => e)).message,
        ).toContain("--overwrite");
        expect((await store.saveBlock(registry, "string", "s", { value: "b" }, true)).data).toEqual({
          value: "b",
        });
      });
    });
  });
}
