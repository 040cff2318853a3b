import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, Wakeups } from "../../core/api/index.ts";
import { WeirClient } from "../../core/client/index.ts";
import {
  loadFlow,
  primeFlowImports,
  registerFlowModules,
  runFlow,
  StopRun,
} from "../../core/engine/index.ts";
import { LogShipper } from "../../core/engine/log-shipper.ts";
import { ApiReporter } from "../../core/engine/reporter.ts";
import type { FlowRun } from "../../core/model/index.ts";
import { task } from "../../core/sdk/index.ts";
import { registry, startApi, tempStore } from "../helpers.ts";

const fixtures = join(import.meta.dir, "../fixtures");
let api: Awaited<ReturnType<typeof startApi>>;

beforeAll(async () => {
  registerFlowModules();
  api = await startApi();
});
afterAll(() => api.stop());

async function tracked(
  entry: string,
  parameters: Record<string, unknown> = {},
  signal = new AbortController().signal,
) {
  const flow = await loadFlow(`flows/flows.ts:${entry}`, fixtures);
  const run: FlowRun = await api.client.createFlowRun({
    flow_name: flow.options.name,
    parameters,
    state: { type: "PENDING" },
  });
  const result = await runFlow({
    flow,
    parameters,
    tracking: { client: api.client, flowRunId: run.id },
    signal,
    echo: false,
  });
  const states = (await api.client.flowRunStates(run.id)).map((s) => s.name);
  return { run: await api.client.getFlowRun(run.id), result, states, id: run.id };
}

describe("runFlow()", () => {
  test("a flow completes, with its tasks recorded and its logs shipped before COMPLETED", async () => {
    const { run, result, states, id } = await tracked("sum", { n: 3 });
    expect(run.state.type).toBe("COMPLETED");
    expect(result.result).toEqual({ total: 12 });
    expect(states).toEqual(["Pending", "Running", "Completed"]);
    const tasks = await api.client.taskRuns(id);
    expect(tasks.map((t) => [t.name, t.state.type])).toEqual([
      ["double", "COMPLETED"],
      ["double", "COMPLETED"],
      ["double", "COMPLETED"],
    ]);
    const logs = (await api.client.flowRunLogs(id)).map((l) => l.message);
    expect(logs).toEqual(["total=12", "module-level logger works too"]);
  });

  test("a server that refuses the task runs riding with the final state still gets the state", async () => {
    const strict = await startApi({ limits: { maxBatch: 2 } });
    try {
      const flow = await loadFlow("flows/flows.ts:sum", fixtures);
      const run: FlowRun = await strict.client.createFlowRun({
        flow_name: flow.options.name,
        parameters: { n: 3 },
        state: { type: "PENDING" },
      });
      const result = await runFlow({
        flow,
        parameters: { n: 3 },
        tracking: { client: strict.client, flowRunId: run.id },
        signal: new AbortController().signal,
        echo: false,
      });
      // Three task runs are over this server's batch of 2: refused with the state, the state is
      // proposed again without them, and the result is not mistaken for what was refused.
      expect(result.final.type).toBe("COMPLETED");
      const after = await strict.client.getFlowRun(run.id);
      expect(after.state.type).toBe("COMPLETED");
      expect(after.state.message ?? "").not.toContain("result was not kept");
      expect(await strict.client.flowRunResult(run.id)).toEqual({ total: 12 });
    } finally {
      await strict.stop();
    }
  });

  test("parameters get the schema's defaults", async () => {
    const { id } = await tracked("sum", { n: 1, label: "x" });
    expect((await api.client.flowRunLogs(id))[0]?.message).toBe("x=2");
  });

  test("invalid parameters fail the run naming the parameter", async () => {
    const { run } = await tracked("sum", { n: "x" });
    expect(run.state.type).toBe("FAILED");
    expect(run.state.message).toContain("n: Invalid type: Expected number");
  });

  test("a throwing flow ends FAILED with the message, and the stack kept in the state", async () => {
    const { run, id } = await tracked("boom");
    expect(run.state.type).toBe("FAILED");
    expect(run.state.message).toBe("kaboom");
    const last = (await api.client.flowRunStates(id)).at(-1)!;
    expect(String((last.data as { error: { stack: string } }).error.stack)).toContain("flows.ts");
  });

  test("retries: two failures then success, through AwaitingRetry", async () => {
    const { run, states } = await tracked("retrying");
    expect(run.state.type).toBe("COMPLETED");
    expect(run.run_count).toBe(3);
    expect(states).toEqual([
      "Pending",
      "Running",
      "AwaitingRetry",
      "Retrying",
      "AwaitingRetry",
      "Retrying",
      "Completed",
    ]);
  });

  test("a flow over its timeout ends FAILED (TimedOut)", async () => {
    const { run } = await tracked("slow");
    expect(run.state.type).toBe("FAILED");
    expect(run.state.name).toBe("TimedOut");
    expect(run.state.message).toContain("timeout of 0.2 s");
  });

  test("task retries are recorded on the task run", async () => {
    const { run, id } = await tracked("withFlakyTask");
    expect(run.state.type).toBe("COMPLETED");
    const [t] = await api.client.taskRuns(id);
    expect(t?.history.map((h) => h.name)).toEqual([
      "Running",
      "AwaitingRetry",
      "Retrying",
      "AwaitingRetry",
      "Retrying",
      "Completed",
    ]);
  });

  test("cancellation ends the run CANCELLED", async () => {
    const flow = await loadFlow("flows/flows.ts:slow", fixtures);
    const created = await api.client.createFlowRun({ flow_name: "slow", state: { type: "PENDING" } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const { final } = await runFlow({
      flow,
      parameters: {},
      tracking: { client: api.client, flowRunId: created.id },
      signal: controller.signal,
      echo: false,
    });
    expect(final.type).toBe("CANCELLED");
    expect((await api.client.getFlowRun(created.id)).state.type).toBe("CANCELLED");
  });

  test("untracked runs need no API", async () => {
    const flow = await loadFlow("flows/flows.ts:sum", fixtures);
    const { final, result } = await runFlow({
      flow,
      parameters: { n: 2 },
      tracking: null,
      signal: new AbortController().signal,
      echo: false,
    });
    expect(final.type).toBe("COMPLETED");
    expect(result).toEqual({ total: 6 });
  });

  test("untracked, tasks keep their retries; outside a flow too", async () => {
    const flow = await loadFlow("flows/flows.ts:untrackedRetries", fixtures);
    const { final, result } = await runFlow({
      flow,
      parameters: {},
      tracking: null,
      signal: new AbortController().signal,
      echo: false,
    });
    expect(final.type).toBe("COMPLETED");
    expect(result).toEqual({ value: 3 });
    let calls = 0;
    const plain = task({ name: "plain", retries: 1 }, async () => {
      if (++calls < 2) throw new Error("once");
      return calls;
    });
    expect(await plain()).toBe(2);
  });
});

describe("loadFlow()", () => {
  const message = (p: Promise<unknown>) =>
    p.then(
      () => "no error",
      (e: Error) => e.message,
    );

  test("names a missing file and the folder it is relative to", async () => {
    expect(await message(loadFlow("flows/nope.ts:x", fixtures))).toContain(
      `file ${fixtures}/flows/nope.ts does not exist`,
    );
  });
  test("lists the flows a file does export", async () => {
    expect(await message(loadFlow("flows/flows.ts:nothere", fixtures))).toContain(
      "it exports these flows: boom, retrying, slow, sum, untrackedRetries, withFlakyTask",
    );
  });
  test("says how to wrap an export that is not a flow", async () => {
    expect(await message(loadFlow("flows/flows.ts:notAFlow", fixtures))).toContain(
      'export "notAFlow" is not a flow',
    );
  });
  test("priming (warm executors) leaves no file behind and flows still load", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weir-prime-test-"));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      await primeFlowImports();
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await loadFlow("flows/flows.ts:sum", fixtures)).options.name).toBe("sum");
  });
  test("refuses Python entrypoints as not TypeScript", async () => {
    expect(await message(loadFlow("flows/etl.py:main", fixtures))).toContain("is not a TypeScript flow");
  });

  test("stopped from outside with StopRun, the run ends in the state it carries, not CANCELLED", async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new StopRun({ type: "CRASHED", message: "its agent exited" })), 50);
    const { run, states } = await tracked("slow", {}, stop.signal);
    expect(run.state.type).toBe("CRASHED");
    expect(run.state.message).toBe("its agent exited");
    expect(states).toEqual(["Pending", "Running", "Crashed"]);
  });
});

describe("LogShipper", () => {
  test("a line longer than the server takes goes as several lines, nothing cut off", async () => {
    const run = await api.client.createFlowRun({ flow_name: "long", state: { type: "RUNNING" } });
    const shipper = new LogShipper(api.client, run.id);
    const text = `${"a".repeat(65_536)}${"b".repeat(65_536)}ccc`;
    shipper.add(20, text, "t");
    await shipper.close();
    const lines = await api.client.flowRunLogs(run.id);
    expect(lines.map((l) => l.message.length)).toEqual([65_536, 65_536, 3]);
    expect(lines.map((l) => l.message).join("")).toBe(text);
  });

  test("long lines past a server's body limit go in smaller batches, none dropped", async () => {
    const small = await startApi({ limits: { maxBodyBytes: 200_000 } });
    try {
      const run = await small.client.createFlowRun({ flow_name: "big", state: { type: "RUNNING" } });
      const shipper = new LogShipper(small.client, run.id);
      for (let i = 0; i < 30; i++) shipper.add(20, `${i}:${"x".repeat(60_000)}`, "t");
      await shipper.close();
      const lines = await small.client.flowRunLogs(run.id);
      expect(lines.map((l) => Number(l.message.split(":")[0]))).toEqual([...Array(30).keys()]);
    } finally {
      await small.stop();
    }
  });

  test("task runs that end while no server answers are recorded once it is back", async () => {
    const store = await tempStore();
    const app = createApp({ store, wakeups: new Wakeups(), version: "test", registry });
    const port = (() => {
      const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
      const p = probe.port;
      probe.stop(true);
      return p;
    })();
    const client = new WeirClient(`http://127.0.0.1:${port}/api`);
    let server = Bun.serve({ hostname: "127.0.0.1", port, fetch: app.fetch });
    try {
      const run = await client.createFlowRun({ flow_name: "blip", state: { type: "RUNNING" } });
      server.stop(true);
      const warnings: string[] = [];
      const reporter = new ApiReporter(client, run.id, (m) => warnings.push(m));
      reporter.taskRunStarted({ id: Bun.randomUUIDv7(), name: "t2", taskKey: "t2" });
      await Bun.sleep(1500);
      server = Bun.serve({ hostname: "127.0.0.1", port, fetch: app.fetch });
      await reporter.flush();
      const tasks = await client.taskRuns(run.id);
      expect(tasks.map((t) => t.name)).toEqual(["t2"]);
      expect(warnings).toEqual([]);
    } finally {
      server.stop(true);
      store.dispose();
    }
  });
});
