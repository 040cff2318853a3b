import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp, Wakeups } from "../../core/api/index.ts";
import { WeirClient } from "../../core/client/index.ts";
import type { Agent, Deployment, FlowRun } from "../../core/model/index.ts";
import { callApp, tempStore } from "../helpers.ts";

let store: Awaited<ReturnType<typeof tempStore>>;
let app: Hono;
let wakeups: Wakeups;

beforeEach(async () => {
  store = await tempStore();
  wakeups = new Wakeups();
  app = createApp({ store, wakeups, version: "test" });
  await call("POST", "/api/work-pools", { name: "local", type: "process" });
});
afterEach(() => store.dispose());

const call = (method: string, path: string, body?: unknown) => callApp(app, method, path, body);

const schema = {
  type: "object",
  properties: { name: { type: "string" }, times: { type: "number", default: 1 } },
  required: ["name"],
};

async function deploy(extra: Record<string, unknown> = {}): Promise<Deployment> {
  const res = await call("PUT", "/api/deployments", {
    flow_name: "hello",
    name: "daily",
    entrypoint: "flows/hello.ts:hello",
    parameters: { name: "World" },
    parameter_openapi_schema: schema,
    work_pool_name: "local",
    ...extra,
  });
  expect([200, 201]).toContain(res.status);
  return res.json.deployment;
}

describe("meta", () => {
  test("health answers ok with the version", async () => {
    const { status, json } = await call("GET", "/api/health");
    expect({ status, json }).toEqual({
      status: 200,
      json: { status: "ok", version: "test" },
    });
  });

  test("the OpenAPI document lists the routes and their request bodies", async () => {
    const { json } = await call("GET", "/api/openapi.json");
    expect(json.openapi).toBe("3.1.0");
    expect(Object.keys(json.paths)).toContain("/api/deployments/{id}/runs");
    expect(
      json.paths["/api/deployments"].put.requestBody.content["application/json"].schema.required,
    ).toContain("flow_name");
  });

  test("an unknown route is a JSON 404 that points at the docs", async () => {
    const res = await call("GET", "/api/nope");
    expect(res.status).toBe(404);
    expect(res.json.error.message).toContain("/api/openapi.json");
  });
});

describe("deployments", () => {
  test("upsert creates, then updates the same deployment", async () => {
    const a = await call("PUT", "/api/deployments", {
      flow_name: "hello",
      name: "daily",
      work_pool_name: "local",
    });
    const b = await call("PUT", "/api/deployments", {
      flow_name: "hello",
      name: "daily",
      work_pool_name: "local",
      tags: ["t"],
    });
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.json.deployment.id).toBe(a.json.deployment.id);
    expect(b.json.deployment.tags).toEqual(["t"]);
  });

  test("every field of the seeds' deployment representation is present", async () => {
    const d = await deploy();
    for (const key of [
      "id",
      "created",
      "updated",
      "name",
      "version",
      "description",
      "flow_id",
      "schedule",
      "is_schedule_active",
      "infra_overrides",
      "parameters",
      "tags",
      "work_queue_name",
      "parameter_openapi_schema",
      "path",
      "entrypoint",
      "storage_document_id",
      "infrastructure_document_id",
      "work_pool_name",
      "job_variables",
      "pull_steps",
      "enforce_parameter_schema",
      "paused",
    ]) {
      expect(d).toHaveProperty(key);
    }
  });

  test("a missing work pool is refused with the command that creates it", async () => {
    const res = await call("PUT", "/api/deployments", {
      flow_name: "hello",
      name: "x",
      work_pool_name: "gpu",
    });
    expect(res.status).toBe(404);
    expect(res.json.error.message).toContain("weir work-pool create gpu --type process");
  });

  test("invalid bodies name the field", async () => {
    const res = await call("PUT", "/api/deployments", { flow_name: "hello", name: "a/b", tags: "x" });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toContain("name: must not contain '/'");
    expect(res.json.error.message).toContain("tags:");
  });

  test("is read by FLOW/NAME", async () => {
    const d = await deploy();
    expect((await call("GET", "/api/deployments/name/hello/daily")).json.id).toBe(d.id);
  });
});

describe("running a deployment", () => {
  test("merges parameters over the deployment's defaults", async () => {
    const d = await deploy();
    const res = await call("POST", `/api/deployments/${d.id}/runs`, { parameters: { times: 2 } });
    expect(res.status).toBe(201);
    expect(res.json.parameters).toEqual({ name: "World", times: 2 });
    expect(res.json.state.type).toBe("SCHEDULED");
    expect(res.json.work_pool_name).toBe("local");
  });

  test("a bad parameter is rejected before any run exists", async () => {
    const d = await deploy();
    const res = await call("POST", `/api/deployments/${d.id}/runs`, { parameters: { times: "three" } });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toContain('parameter "times" must be number');
    expect((await call("GET", "/api/flow-runs")).json).toEqual([]);
  });

  test("an idempotency key gives back the run it made, even to requests sent at once", async () => {
    const d = await deploy();
    const other = await deploy({ name: "other" });
    const body = { idempotency_key: "nightly-2026-12-02", parameters: { times: 3 } };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => call("POST", `/api/deployments/${d.id}/runs`, body)),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.json.id)).size).toBe(1);
    const again = await call("POST", `/api/deployments/${d.id}/runs`, body);
    expect([again.status, again.json.id]).toEqual([200, answers[0]!.json.id]);
    // the same key on another deployment is another run
    const elsewhere = await call("POST", `/api/deployments/${other.id}/runs`, body);
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.json.id).not.toBe(answers[0]!.json.id);
    expect((await call("GET", "/api/flow-runs")).json.length).toBe(2);
  });

  test("parameters are not checked when the deployment does not enforce its schema", async () => {
    const d = await deploy({ enforce_parameter_schema: false });
    expect((await call("POST", `/api/deployments/${d.id}/runs`, { parameters: { other: 1 } })).status).toBe(
      201,
    );
  });
});

/** A task run of `flowRunId` that ran and completed, as an engine reports it. */
function completedTaskRun(flowRunId: string) {
  const ts = new Date().toISOString();
  return {
    id: Bun.randomUUIDv7(),
    flow_run_id: flowRunId,
    name: "step",
    task_key: "step",
    state: { type: "COMPLETED", name: "Completed", timestamp: ts },
    start_time: ts,
    end_time: ts,
    run_count: 1,
    history: [
      { type: "RUNNING", name: "Running", timestamp: ts },
      { type: "COMPLETED", name: "Completed", timestamp: ts },
    ],
  };
}

describe("flow run states", () => {
  test("the server refuses an illegal transition with 409 and keeps history", async () => {
    const d = await deploy();
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    expect((await call("POST", `/api/flow-runs/${run.id}/set_state`, { type: "RUNNING" })).status).toBe(200);
    expect((await call("POST", `/api/flow-runs/${run.id}/set_state`, { type: "COMPLETED" })).status).toBe(
      200,
    );
    const again = await call("POST", `/api/flow-runs/${run.id}/set_state`, { type: "RUNNING" });
    expect(again.status).toBe(409);
    expect(again.json.error.message).toContain("finished runs do not change state");
    const states = (await call("GET", `/api/flow-runs/${run.id}/states`)).json.map(
      (s: { type: string }) => s.type,
    );
    expect(states).toEqual(["SCHEDULED", "RUNNING", "COMPLETED"]);
  });

  test("a final state carries the run's last task runs, written before it; another run's are refused", async () => {
    const d = await deploy();
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    const other: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    await call("POST", `/api/flow-runs/${run.id}/set_state`, { type: "RUNNING" });
    const snapshot = completedTaskRun;
    const wrong = await call("POST", `/api/flow-runs/${run.id}/set_state`, {
      type: "COMPLETED",
      task_runs: [snapshot(run.id), snapshot(other.id)],
    });
    expect(wrong.status).toBe(422);
    expect(wrong.json.error.message).toContain("task_runs[1].flow_run_id: must be this flow run's id");
    // Refused whole: neither the state nor the task runs were written.
    expect((await call("GET", `/api/flow-runs/${run.id}`)).json.state.type).toBe("RUNNING");
    expect((await call("GET", `/api/flow-runs/${run.id}/task-runs`)).json).toEqual([]);
    const done = await call("POST", `/api/flow-runs/${run.id}/set_state`, {
      type: "COMPLETED",
      task_runs: [snapshot(run.id), snapshot(run.id)],
    });
    expect(done.status).toBe(200);
    expect(done.json.state.type).toBe("COMPLETED");
    // Engines send task runs along only to a server that says it takes them.
    expect(done.headers.get("x-weir-accepts")?.split(", ")).toContain("task_runs");
    const tasks = (await call("GET", `/api/flow-runs/${run.id}/task-runs`)).json;
    expect(tasks.map((t: { state: { type: string } }) => t.state.type)).toEqual(["COMPLETED", "COMPLETED"]);
    // Once finished, the run takes no more, with its state or without.
    const late = await call("POST", `/api/flow-runs/${run.id}/set_state`, {
      type: "FAILED",
      task_runs: [snapshot(run.id)],
    });
    expect(late.status).toBe(409);
    expect((await call("GET", `/api/flow-runs/${run.id}/task-runs`)).json.length).toBe(2);
  });

  test("task runs sent with a refused state are refused with it (a claim that expired)", async () => {
    const d = await deploy();
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    await call("POST", `/api/flow-runs/${run.id}/set_state`, { type: "RUNNING" });
    const stale = await call("POST", `/api/flow-runs/${run.id}/set_state`, {
      type: "COMPLETED",
      agent_id: "an-agent-that-never-held-it",
      task_runs: [completedTaskRun(run.id)],
    });
    expect(stale.status).toBe(409);
    expect(stale.json.error.message).toContain("is no longer held by agent an-agent-that-never-held-it");
    expect((await call("GET", `/api/flow-runs/${run.id}/task-runs`)).json).toEqual([]);
  });

  test("task runs and log lines from an agent whose claim is gone are refused; the holder's are written", async () => {
    expect((await call("POST", "/api/work-pools", { name: "lease" })).status).toBe(201);
    const d = await deploy({ name: "lease", work_pool_name: "lease" });
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    const claim = await call("POST", "/api/work-pools/lease/claim", { agent_id: "holder", limit: 1 });
    expect(claim.json.flow_runs.map((r: FlowRun) => r.id)).toEqual([run.id]);
    const stale = await call("POST", "/api/task-runs/snapshots?agent_id=an-agent-whose-claim-expired", [
      completedTaskRun(run.id),
    ]);
    expect(stale.status).toBe(409);
    expect(stale.json.error.message).toContain(
      "is no longer held by agent an-agent-whose-claim-expired (its claim expired; agent holder holds it now)",
    );
    expect((await call("GET", `/api/flow-runs/${run.id}/task-runs`)).json).toEqual([]);
    const held = await call("POST", "/api/task-runs/snapshots?agent_id=holder", [completedTaskRun(run.id)]);
    expect(held.status).toBe(200);
    expect((await call("GET", `/api/flow-runs/${run.id}/task-runs`)).json.length).toBe(1);
    const line = [
      { flow_run_id: run.id, name: "t", level: 20, message: "x", timestamp: new Date().toISOString() },
    ];
    const staleLog = await call("POST", "/api/logs?agent_id=an-agent-whose-claim-expired", line);
    expect(staleLog.status).toBe(409);
    expect(staleLog.json.error.message).toContain("is no longer held by agent an-agent-whose-claim-expired");
    expect((await call("POST", "/api/logs?agent_id=holder", line)).status).toBe(201);
    expect(
      (await call("GET", `/api/flow-runs/${run.id}/logs`)).json.map((l: { message: string }) => l.message),
    ).toEqual(["x"]);
  });

  test("a task run of one flow run cannot be rewritten through another, open one (409, nothing written)", async () => {
    const d = await deploy();
    const done: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    await call("POST", `/api/flow-runs/${done.id}/set_state`, { type: "RUNNING" });
    const task = completedTaskRun(done.id);
    expect((await call("POST", "/api/task-runs/snapshots", [task])).status).toBe(200);
    await call("POST", `/api/flow-runs/${done.id}/set_state`, { type: "COMPLETED" });
    const open: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    await call("POST", `/api/flow-runs/${open.id}/set_state`, { type: "RUNNING" });
    const hijack = {
      ...task,
      flow_run_id: open.id,
      state: { type: "FAILED", name: "Hijacked", timestamp: new Date().toISOString() },
    };
    const r = await call("POST", "/api/task-runs/snapshots", [completedTaskRun(open.id), hijack]);
    expect(r.status).toBe(409);
    expect(r.json.error.message).toContain(
      `task run ${task.id} belongs to flow run ${done.id}, not ${open.id}`,
    );
    const viaState = await call("POST", `/api/flow-runs/${open.id}/set_state`, {
      type: "COMPLETED",
      task_runs: [hijack],
    });
    expect(viaState.status).toBe(409);
    const kept = (await call("GET", `/api/flow-runs/${done.id}/task-runs`)).json;
    expect(kept.map((t: { state: { name: string } }) => t.state.name)).toEqual(["Completed"]);
    expect((await call("GET", `/api/flow-runs/${open.id}/task-runs`)).json).toEqual([]);
    expect((await call("GET", `/api/flow-runs/${open.id}`)).json.state.type).toBe("RUNNING");
  });

  test("a NUL character in a JSON value is refused naming its field, on both databases alike; a backslash-u text is not", async () => {
    const r = await call("PUT", "/api/variables/nul", { value: "a\u0000b" });
    expect(r.status).toBe(422);
    expect(r.json.error.message).toContain("value: must not contain the NUL character");
    const d = await call("PUT", "/api/deployments", {
      flow_name: "hello",
      name: "nul",
      parameters: { deep: { x: ["ok", "a\u0000"] } },
    });
    expect(d.status).toBe(422);
    expect(d.json.error.message).toContain("parameters: must not contain the NUL character");
    expect((await call("PUT", "/api/variables/escaped", { value: "\\u0000 is fine" })).status).toBe(200);
  });

  test("a failure whose error holds a NUL still ends the run FAILED, the NUL escaped", async () => {
    const d = await deploy();
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    await call("POST", `/api/flow-runs/${run.id}/set_state`, { type: "RUNNING" });
    const r = await call("POST", `/api/flow-runs/${run.id}/set_state`, {
      type: "FAILED",
      message: "bad byte \u0000",
      data: { error: { message: "bad byte \u0000", stack: "at x \u0000" } },
    });
    expect(r.status).toBe(200);
    expect(r.json.state.message).toBe("bad byte \\u0000");
  });

  test("names that are URL folders, tags no run can carry and terminal escapes are refused", async () => {
    for (const name of [".", ".."]) {
      const r = await call("POST", "/api/work-pools", { name });
      expect(r.status).toBe(422);
      expect(r.json.error.message).toContain('must not be "." or ".."');
    }
    const tag = await call("PUT", `/api/concurrency-limits/${encodeURIComponent("a\nb")}`, { limit: 1 });
    expect(tag.status).toBe(422);
    expect(tag.json.error.message).toContain("tag");
    const redraw = await call("PATCH", "/api/work-pools/local", { description: "x\u001b[2Jfake" });
    expect(redraw.status).toBe(422);
    expect(redraw.json.error.message).toContain("description: must not contain control characters");
    const client = new WeirClient("http://127.0.0.1:9/api");
    const err = await Promise.resolve()
      .then(() => client.getWorkPool(".."))
      .catch((e) => e);
    expect([err.code, err.message]).toEqual([
      "USAGE",
      '".." cannot name anything (in a URL it means a folder)',
    ]);
  });

  test("cancelling a run nobody started ends it at once", async () => {
    const d = await deploy();
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    expect((await call("POST", `/api/flow-runs/${run.id}/cancel`)).json.state.type).toBe("CANCELLED");
  });

  test("logs come back in order after a given id", async () => {
    const d = await deploy();
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    const ts = new Date().toISOString();
    const lines = ["one", "two", "three"].map((message) => ({
      flow_run_id: run.id,
      name: "t",
      level: 20,
      message,
      timestamp: ts,
    }));
    expect((await call("POST", "/api/logs", lines)).status).toBe(201);
    const all = (await call("GET", `/api/flow-runs/${run.id}/logs`)).json;
    expect(all.map((l: { message: string }) => l.message)).toEqual(["one", "two", "three"]);
    const after = (await call("GET", `/api/flow-runs/${run.id}/logs?after=${all[0].id}`)).json;
    expect(after.map((l: { message: string }) => l.message)).toEqual(["two", "three"]);
  });

  test("a finished run takes no more log lines or task runs; an unknown run is a 404, not a 500", async () => {
    const d = await deploy();
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    const line = (id: string) => [
      { flow_run_id: id, name: "t", level: 20, message: "x", timestamp: new Date().toISOString() },
    ];
    await call("POST", `/api/flow-runs/${run.id}/set_state`, { type: "RUNNING" });
    expect((await call("POST", "/api/logs", line(run.id))).status).toBe(201);
    await call("POST", `/api/flow-runs/${run.id}/set_state`, { type: "CRASHED", message: "gone" });
    const refused = await call("POST", "/api/logs", line(run.id));
    expect(refused.status).toBe(409);
    expect(refused.json.error.message).toBe(
      `Cannot add log lines to flow run "${run.name}" (${run.id}): it is already Crashed, and a finished run takes no more`,
    );
    const task = await call("POST", "/api/task-runs", {
      flow_run_id: run.id,
      name: "t",
      task_key: "t",
      state: { type: "RUNNING" },
    });
    expect(task.status).toBe(409);
    const unknown = await call("POST", "/api/logs", line("00000000-0000-0000-0000-000000000000"));
    expect(unknown.status).toBe(404);
    expect((await call("GET", `/api/flow-runs/${run.id}/logs`)).json.length).toBe(1);
  });
});

describe("claiming", () => {
  test("a waiting claim wakes as soon as a run is created (no fixed sleep)", async () => {
    // With the database re-check out of the way, only the wake-up can end this claim before the
    // test's own 5 s limit; its minute-long wait would fail the test otherwise.
    app = createApp({ store, wakeups, version: "test", claimRecheckMs: 120_000 });
    const d = await deploy();
    const claim = call("POST", "/api/work-pools/local/claim", { agent_id: "a1", wait_ms: 60_000 });
    await Bun.sleep(50);
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    const { json } = await claim;
    expect(json.flow_runs.map((r: FlowRun) => r.id)).toEqual([run.id]);
    expect(json.flow_runs[0].state.type).toBe("PENDING");
  });

  test("an empty claim returns [] after its wait", async () => {
    expect((await call("POST", "/api/work-pools/local/claim", { agent_id: "a1", wait_ms: 50 })).json).toEqual(
      { flow_runs: [], cancelling: [] },
    );
  });

  test("a paused pool gives out nothing", async () => {
    const d = await deploy();
    await call("POST", `/api/deployments/${d.id}/runs`, {});
    await call("POST", "/api/work-pools/local/pause");
    expect(
      (await call("POST", "/api/work-pools/local/claim", { agent_id: "a", wait_ms: 0 })).json.flow_runs,
    ).toEqual([]);
    await call("POST", "/api/work-pools/local/resume");
    expect(
      (await call("POST", "/api/work-pools/local/claim", { agent_id: "a", wait_ms: 0 })).json.flow_runs
        .length,
    ).toBe(1);
  });

  test("an agent that says it stopped is OFFLINE at once, and ONLINE again when heard", async () => {
    const beat = (extra: Record<string, unknown> = {}) =>
      call("POST", "/api/agents/heartbeat", { id: "s", name: "s", work_pool_name: "local", ...extra });
    const status = async () => {
      const a = (await call("GET", "/api/agents?pool=local")).json.find((x: Agent) => x.id === "s");
      return [a.status, a.stopped === null ? null : typeof a.stopped];
    };
    await beat();
    expect(await status()).toEqual(["ONLINE", null]);
    await beat({ stopping: true });
    expect(await status()).toEqual(["OFFLINE", "string"]);
    await beat();
    expect(await status()).toEqual(["ONLINE", null]);
  });

  test("a claim's start: a number starts that many of its runs; the server says it takes one before the first claim", async () => {
    const d = await deploy();
    for (let i = 0; i < 3; i++) await call("POST", `/api/deployments/${d.id}/runs`, {});
    const beat = await call("POST", "/api/agents/heartbeat", {
      id: "w",
      name: "w",
      work_pool_name: "local",
      work_queues: [],
    });
    expect(beat.headers.get("x-weir-accepts")?.split(", ")).toContain("claim_start_count");
    const claim = (body: Record<string, unknown>) =>
      call("POST", "/api/work-pools/local/claim", { agent_id: "w", wait_ms: 0, ...body });
    for (const start of [-1, 1.5, 101, "2"]) {
      const bad = await claim({ limit: 3, start });
      expect(bad.status).toBe(422);
      expect(bad.json.error.message).toContain("start: must be true, false or a whole number from 0 to 100");
    }
    const got = await claim({ limit: 3, start: 1 });
    expect(got.headers.get("x-weir-accepts")?.split(", ")).toContain("claim_start_count");
    expect(got.json.flow_runs.map((r: FlowRun) => r.state.type)).toEqual(["RUNNING", "PENDING", "PENDING"]);
  });

  test("a stopping agent's release puts back the runs claimed for it that it never got, and claims none", async () => {
    const d = await deploy();
    for (let i = 0; i < 3; i++) await call("POST", `/api/deployments/${d.id}/runs`, {});
    const claim = (body: Record<string, unknown>) =>
      call("POST", "/api/work-pools/local/claim", { agent_id: "stopping", wait_ms: 0, ...body });
    // Two runs claimed (one started by its claim); the agent got only the first (its answer for
    // the second was cut short by the stop).
    const got = (await claim({ limit: 2, start: 1 })).json.flow_runs as FlowRun[];
    expect(got.map((r) => r.state.type)).toEqual(["RUNNING", "PENDING"]);
    const released = await claim({ limit: 0, running: [got[1]!.id], start: 0, release: true });
    expect(released.json).toEqual({ flow_runs: [], cancelling: [] });
    const back = (await call("GET", `/api/flow-runs/${got[0]!.id}`)).json as FlowRun;
    expect([back.state.type, back.agent_id, back.run_count]).toEqual(["SCHEDULED", null, 0]);
    expect(back.state.message).toBe("Its agent hung up before taking it; back in the queue");
    expect((await call("GET", `/api/flow-runs/${got[1]!.id}`)).json.state.type).toBe("PENDING");
    // The run put back is claimed by the next agent as if new.
    const next = (
      await call("POST", "/api/work-pools/local/claim", { agent_id: "other", wait_ms: 0, limit: 5 })
    ).json.flow_runs as FlowRun[];
    expect(next.map((r) => r.id)).toContain(got[0]!.id);
  });

  test("a heartbeat returns the agent's runs being cancelled", async () => {
    const d = await deploy();
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    await call("POST", "/api/work-pools/local/claim", { agent_id: "a1", wait_ms: 0 });
    await call("POST", `/api/flow-runs/${run.id}/cancel`);
    const hb = await call("POST", "/api/agents/heartbeat", {
      id: "a1",
      name: "agent",
      work_pool_name: "local",
    });
    expect(hb.json.cancelling).toEqual([run.id]);
  });

  test("a waiting claim ends as soon as one of the agent's runs is cancelled", async () => {
    const d = await deploy();
    const run: FlowRun = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    await call("POST", "/api/work-pools/local/claim", { agent_id: "a1", wait_ms: 0 });
    await call("POST", `/api/flow-runs/${run.id}/set_state`, { type: "RUNNING" });
    // As above: only the wake-up ends this minute-long wait within the test's 5 s limit.
    app = createApp({ store, wakeups, version: "test", claimRecheckMs: 120_000 });
    const claim = call("POST", "/api/work-pools/local/claim", { agent_id: "a1", limit: 0, wait_ms: 60_000 });
    await Bun.sleep(50);
    await call("POST", `/api/flow-runs/${run.id}/cancel`);
    expect((await claim).json).toEqual({ flow_runs: [], cancelling: [run.id] });
    // once the agent says it acts on it, the same cancellation does not end the wait again
    const next = await call("POST", "/api/work-pools/local/claim", {
      agent_id: "a1",
      limit: 0,
      wait_ms: 100,
      cancelling_seen: [run.id],
    });
    expect(next.json.cancelling).toEqual([]);
  });
});

describe("schedules", () => {
  const hourly = { interval: 3600, timezone: "UTC" };

  test("deploying with schedules stores them canonically; `schedule` alone is shorthand", async () => {
    const d = await deploy({ schedules: [{ schedule: { interval: "PT1H" }, slug: "hourly" }] });
    expect(d.schedules.map((s) => [s.slug, s.schedule, s.active])).toEqual([
      ["hourly", { interval: 3600, anchor_date: "2020-01-01T00:00:00.000Z", timezone: "UTC" }, true],
    ]);
    expect(d.schedule).toEqual(d.schedules[0]!.schedule);
    const one = (
      await call("PUT", "/api/deployments", {
        flow_name: "hello",
        name: "other",
        schedule: { cron: "0 9 * * *" },
      })
    ).json.deployment as Deployment;
    expect(one.schedules.map((s) => s.schedule)).toEqual([
      { cron: "0 9 * * *", timezone: "UTC", day_or: true },
    ]);
  });

  test("an invalid schedule is refused naming the field and the reason", async () => {
    const res = await call("PUT", "/api/deployments", {
      flow_name: "hello",
      name: "bad",
      schedules: [{ schedule: hourly }, { schedule: { rrule: "FREQ=DAILY;COUNT=2" } }],
    });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toContain("schedules[1]: RRule schedules with COUNT are not supported");
    expect((await call("GET", "/api/deployments")).json).toEqual([]);
  });

  test("a schedule added or replaced on its own has its parameters checked, as a deploy checks them", async () => {
    const d = await deploy();
    const added = await call("POST", `/api/deployments/${d.id}/schedules`, {
      schedule: hourly,
      parameters: { name: 5 },
    });
    expect(added.status).toBe(422);
    expect(added.json.error.message).toContain("the parameters of the schedule");
    const replaced = await call("PUT", `/api/deployments/${d.id}/schedules`, {
      schedules: [{ schedule: hourly, parameters: { name: 5 } }],
    });
    expect(replaced.status).toBe(422);
    expect(replaced.json.error.message).toContain("the parameters of schedules[0]");
    expect((await call("GET", `/api/deployments/${d.id}/schedules`)).json).toEqual([]);
  });

  test("a refused deploy makes no work queue", async () => {
    const res = await call("PUT", "/api/deployments", {
      flow_name: "hello",
      name: "queued",
      work_pool_name: "local",
      work_queue_name: "typo-queue",
      schedules: [{ schedule: { cron: "bogus" } }],
    });
    expect(res.status).toBe(422);
    const pool = (await call("GET", "/api/work-pools/local")).json;
    expect(pool.queues.map((q: { name: string }) => q.name)).not.toContain("typo-queue");
  });

  test("add, pause, resume, delete and clear, by id or slug", async () => {
    const d = await deploy();
    const created = await call("POST", `/api/deployments/${d.id}/schedules`, { schedule: hourly, slug: "h" });
    expect(created.status).toBe(201);
    expect((await call("POST", `/api/deployments/${d.id}/schedules/h/pause`)).json.active).toBe(false);
    expect((await call("POST", `/api/deployments/${d.id}/schedules/h/resume`)).json.active).toBe(true);
    await call("POST", `/api/deployments/${d.id}/schedules`, { schedule: { cron: "*/5 * * * *" } });
    expect((await call("GET", `/api/deployments/${d.id}/schedules`)).json.length).toBe(2);
    expect((await call("DELETE", `/api/deployments/${d.id}/schedules/h`)).json.schedules.length).toBe(1);
    expect((await call("DELETE", `/api/deployments/${d.id}/schedules`)).json.schedules).toEqual([]);
    expect((await call("POST", `/api/deployments/${d.id}/schedules/nope/pause`)).status).toBe(404);
  });

  test("a deployment is scheduled as soon as it is created", async () => {
    const kicked: string[][] = [];
    const scheduled = createApp({
      store,
      wakeups,
      version: "test",
      scheduleNow: async (ids) => kicked.push(ids),
    });
    const res = await scheduled.request("/api/deployments", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ flow_name: "f", name: "n", schedules: [{ schedule: hourly }] }),
    });
    const { deployment } = (await res.json()) as { deployment: Deployment };
    expect(kicked).toEqual([[deployment.id]]);
  });
});

describe("deployment extras", () => {
  test("triggers and concurrency_limit are stored as given", async () => {
    const d = await deploy({
      triggers: [{ type: "event", expect: ["x"] }],
      concurrency_limit: { limit: 1, collision_strategy: "CANCEL_NEW" },
    });
    expect(d.triggers).toEqual([{ type: "event", expect: ["x"] }]);
    expect(d.concurrency_limit).toEqual({ limit: 1, collision_strategy: "CANCEL_NEW" });
  });
});

describe("waiting for a run's end", () => {
  test("GET /flow-runs/ID/wait answers when the run ends, or with the run as it is after timeout_ms", async () => {
    const d = await deploy();
    const run = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    const early = await call("GET", `/api/flow-runs/${run.id}/wait?timeout_ms=0`);
    expect(early.json.state.type).toBe("SCHEDULED");
    const waiting = call("GET", `/api/flow-runs/${run.id}/wait?timeout_ms=60000`);
    let answered = false;
    void waiting.then(() => {
      answered = true;
    });
    await Bun.sleep(50);
    expect(answered).toBe(false);
    await call("POST", `/api/flow-runs/${run.id}/cancel`);
    expect((await waiting).json.state.type).toBe("CANCELLED");
    expect((await call("GET", `/api/flow-runs/${run.id}/wait?timeout_ms=61000`)).status).toBe(422);
  });
});

describe("what the UI edits", () => {
  test("PATCH a deployment's description, defaults and tags; defaults the flow refuses are named", async () => {
    const d = await deploy();
    const bad = await call("PATCH", `/api/deployments/${d.id}`, { parameters: { name: 5 } });
    expect([bad.status, bad.json.error.message]).toEqual([
      422,
      expect.stringContaining('parameter "name" must be string'),
    ]);
    const unknown = await call("PATCH", `/api/deployments/${d.id}`, { entrypoint: "x.ts:y" });
    expect(unknown.status).toBe(422);
    const ok = await call("PATCH", `/api/deployments/${d.id}`, {
      description: "Greets",
      parameters: { name: "Ada", times: 2 },
      tags: ["a", "b"],
    });
    expect(ok.status).toBe(200);
    expect([ok.json.description, ok.json.parameters, ok.json.tags, ok.json.entrypoint]).toEqual([
      "Greets",
      { name: "Ada", times: 2 },
      ["a", "b"],
      "flows/hello.ts:hello",
    ]);
    // a field left out stays
    const again = await call("PATCH", `/api/deployments/${d.id}`, { tags: [] });
    expect([again.json.description, again.json.tags]).toEqual(["Greets", []]);
  });

  test("PATCH a block keeps the fields not given (a secret left as it is)", async () => {
    await call("POST", "/api/blocks", { type: "secret", name: "pw", data: { value: "hunter2" } });
    const patched = await call("PATCH", "/api/blocks/secret/pw", { data: {} });
    expect([patched.status, patched.json.data.value]).toEqual([200, "********"]);
    const read = await call("GET", "/api/blocks/secret/pw?include_secrets=true");
    expect(read.json.data.value).toBe("hunter2");
    await call("PATCH", "/api/blocks/secret/pw", { data: { value: "new" } });
    expect((await call("GET", "/api/blocks/secret/pw?include_secrets=true")).json.data.value).toBe("new");
    expect((await call("PATCH", "/api/blocks/secret/nope", { data: {} })).status).toBe(404);
  });

  test("runs are listed by state type and by named state (LATE, AWAITINGRETRY, RETRYING)", async () => {
    const d = await deploy();
    const onTime = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    const late = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    const failed = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    await call("POST", `/api/flow-runs/${late.id}/set_state`, { type: "SCHEDULED", name: "Late" });
    await call("POST", `/api/flow-runs/${failed.id}/set_state`, { type: "RUNNING" });
    await call("POST", `/api/flow-runs/${failed.id}/set_state`, { type: "FAILED" });
    const ids = async (q: string) =>
      ((await call("GET", `/api/flow-runs?state=${q}`)).json as FlowRun[]).map((r) => r.id).sort();
    expect(await ids("late")).toEqual([late.id]);
    expect(await ids("Late,FAILED")).toEqual([late.id, failed.id].sort());
    expect(await ids("scheduled")).toEqual([onTime.id, late.id].sort());
    expect(await ids("awaiting_retry")).toEqual([]);
    const bad = await call("GET", "/api/flow-runs?state=lat");
    expect([bad.status, bad.json.error.message]).toEqual([
      422,
      expect.stringContaining('state "lat" is not a state type or named state (did you mean LATE?)'),
    ]);
  });

  test("runs are listed by tag and by creation time", async () => {
    const d = await deploy();
    const tagged = await call("POST", `/api/deployments/${d.id}/runs`, { tags: ["rare"] });
    await call("POST", `/api/deployments/${d.id}/runs`, {});
    const byTag = await call("GET", "/api/flow-runs?tag=rare");
    expect(byTag.json.map((r: FlowRun) => r.id)).toEqual([tagged.json.id]);
    // LIKE's wildcards and JSON's quotes in a tag are matched as themselves
    const odd = await call("POST", `/api/deployments/${d.id}/runs`, { tags: ['50%_off "x"'] });
    expect(
      (await call("GET", `/api/flow-runs?tag=${encodeURIComponent('50%_off "x"')}`)).json.map(
        (r: FlowRun) => r.id,
      ),
    ).toEqual([odd.json.id]);
    expect((await call("GET", `/api/flow-runs?tag=${encodeURIComponent("50xyoff")}`)).json).toEqual([]);
    expect((await call("GET", `/api/flow-runs?tag=${encodeURIComponent('"x"')}`)).json).toEqual([]);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await call("GET", `/api/flow-runs?created_after=${future}`)).json).toEqual([]);
    expect((await call("GET", `/api/flow-runs?created_before=${future}`)).json).toHaveLength(3);
    const bad = await call("GET", "/api/flow-runs?created_after=yesterday");
    expect([bad.status, bad.json.error.message]).toEqual([
      422,
      expect.stringContaining("created_after=yesterday is not a time"),
    ]);
  });
});

describe("subflow runs", () => {
  const start = async (id: string) => {
    for (const type of ["PENDING", "RUNNING"])
      expect((await call("POST", `/api/flow-runs/${id}/set_state`, { type })).status).toBe(200);
  };
  const inside = async (parent: string) => {
    const r = await call("POST", "/api/flow-runs", {
      flow_name: "child",
      state: { type: "PENDING" },
      parent_flow_run_id: parent,
    });
    expect(r.status).toBe(201);
    await call("POST", `/api/flow-runs/${r.json.id}/set_state`, { type: "RUNNING" });
    return r.json.id as string;
  };

  test("a run's end ends the subflows in its process, not those of a deployment run it started", async () => {
    const d = await deploy();
    const p = (await call("POST", `/api/deployments/${d.id}/runs`, { parameters: { name: "p" } })).json.id;
    await start(p);
    const mine = await inside(p);
    const other = (await call("POST", `/api/deployments/${d.id}/runs`, { parent_flow_run_id: p })).json.id;
    await start(other);
    const theirs = await inside(other);
    expect((await call("POST", `/api/flow-runs/${p}/set_state`, { type: "COMPLETED" })).status).toBe(200);
    const state = async (id: string) => (await call("GET", `/api/flow-runs/${id}`)).json.state;
    expect(await state(mine)).toMatchObject({
      type: "CRASHED",
      message: expect.stringContaining("ended Completed"),
    });
    expect((await state(other)).type).toBe("RUNNING");
    expect((await state(theirs)).type).toBe("RUNNING");
    // and a finished run starts no subflows
    const late = await call("POST", "/api/flow-runs", {
      flow_name: "x",
      state: { type: "PENDING" },
      parent_flow_run_id: p,
    });
    expect([late.status, late.json.error.message]).toEqual([
      409,
      expect.stringContaining("has ended (Completed)"),
    ]);
  });

  test("a subflow in its parent's process is cancelled through its parent; runs without a deployment are not retried", async () => {
    const d = await deploy();
    const p = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json.id;
    await start(p);
    const child = await inside(p);
    const refused = await call("POST", `/api/flow-runs/${child}/cancel`);
    expect([refused.status, refused.json.error.message]).toEqual([
      409,
      expect.stringContaining(`cancel its parent, flow run ${p}`),
    ]);
    await call("POST", `/api/flow-runs/${child}/set_state`, { type: "COMPLETED" });
    const retry = await call("POST", `/api/flow-runs/${child}/retry`);
    expect([retry.status, retry.json.error.message]).toEqual([
      409,
      expect.stringContaining("has no deployment"),
    ]);
  });

  test("a retried run has no result until its new attempt completes", async () => {
    const d = await deploy();
    const id = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json.id;
    await start(id);
    await call("POST", `/api/flow-runs/${id}/set_state`, { type: "COMPLETED", result: '{"n":1}' });
    expect((await call("GET", `/api/flow-runs/${id}/result`)).json).toEqual({ n: 1 });
    expect((await call("POST", `/api/flow-runs/${id}/retry`)).status).toBe(200);
    const none = await call("GET", `/api/flow-runs/${id}/result`);
    expect([none.status, none.json.error.message]).toEqual([
      404,
      expect.stringContaining("has no result yet"),
    ]);
  });
});
