// What a client believes the server takes (x-weir-accepts) follows the server it talks to: a new
// server says it on every heartbeat and claim answer; an older one (a rollback, or a failover to
// a server not yet upgraded) does not, and a client that learnt more from a newer one must forget
// it, or every claim it sends would be refused. The older server is a stub answering as the
// release before `claim_start_count` did; the newer one is the real API.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { WeirClient } from "../../core/client/index.ts";
import { startApi } from "../helpers.ts";

let api: Awaited<ReturnType<typeof startApi>>;
let older: ReturnType<typeof Bun.serve>;
const claims: unknown[] = [];
beforeAll(async () => {
  api = await startApi();
  await api.client.createWorkPool({ name: "p", type: "process" });
  older = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/api/agents/heartbeat") return Response.json({ agent: {}, cancelling: [] }); // says nothing of what it takes
      if (path === "/api/work-pools/p/claim") {
        const body = (await req.json()) as { start?: unknown };
        claims.push(body.start);
        if (typeof body.start === "number")
          return Response.json(
            { error: { code: "INVALID", message: "Invalid request body: start: Invalid type" } },
            { status: 422 },
          );
        return Response.json(
          { flow_runs: [], cancelling: [] },
          { headers: { "x-weir-accepts": "task_runs" } },
        );
      }
      return new Response("not found", { status: 404 });
    },
  });
});
afterAll(async () => {
  await older.stop(true);
  await api.stop();
});

const beat = (client: WeirClient) =>
  client.heartbeat({ id: "a", name: "a", work_pool_name: "p", work_queues: [] });

describe("x-weir-accepts", () => {
  test("a new server says on heartbeats and claims that it takes a claim's start as a number", async () => {
    const client = new WeirClient(api.url);
    await beat(client);
    expect(client.accepts("claim_start_count")).toBe(true);
    expect(client.accepts("task_runs")).toBe(true);
  });

  test("a heartbeat or a claim error from an older server unsays it; its claim answer says what it takes", async () => {
    const client = new WeirClient(`http://127.0.0.1:${older.port}/api`, {
      accepts: ["task_runs", "claim_start_count"],
    });
    await beat(client);
    expect(client.accepted()).toEqual([]);

    const learnt = new WeirClient(`http://127.0.0.1:${older.port}/api`, {
      accepts: ["task_runs", "claim_start_count"],
    });
    const refused = await learnt
      .claim("p", { agent_id: "a", queues: [], limit: 1, wait_ms: 0, start: 1 })
      .catch((e) => e);
    expect(refused.code).toBe("INVALID");
    expect(learnt.accepts("claim_start_count")).toBe(false);
    await learnt.claim("p", { agent_id: "a", queues: [], limit: 1, wait_ms: 0, start: false });
    expect(learnt.accepted()).toEqual(["task_runs"]);
    expect(claims).toEqual([1, false]);
  });
});
