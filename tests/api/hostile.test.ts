// What one hostile or careless client sends must not hurt the server or the other deployments:
// each row of the table in the "hostile input" issue, through the API in process.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp, Wakeups } from "../../core/api/index.ts";
import { DEFAULT_LIMITS } from "../../core/config/index.ts";
import { DateExpander } from "../../core/schedules/index.ts";
import { callApp, tempStore } from "../helpers.ts";

let store: Awaited<ReturnType<typeof tempStore>>;
let app: Hono;
let expander: DateExpander;

beforeEach(async () => {
  store = await tempStore();
  expander = new DateExpander(300);
  app = createApp({ store, wakeups: new Wakeups(), version: "test", expander });
  await call("POST", "/api/work-pools", { name: "local" });
});
afterEach(() => {
  expander.close();
  store.dispose();
});

async function call(method: string, path: string, body?: unknown, raw?: string) {
  const res = await app.request(path, {
    method,
    headers: method === "GET" ? {} : { "content-type": "application/json" },
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

const deployment = (extra: Record<string, unknown> = {}) => ({
  flow_name: "hello",
  name: "daily",
  work_pool_name: "local",
  ...extra,
});
const deploymentCount = async () => (await store.listDeployments()).length;

describe("schedules are validated before anything is stored", () => {
  test.each([
    [{ rrule: "FREQ=SECONDLY" }, "rrules finer than MINUTELY (FREQ=SECONDLY) are not supported"],
    [{ rrule: "FREQ=MINUTELY;BYSECOND=0,30" }, "BYSECOND=0,30 puts runs less than a minute apart"],
    [
      { rrule: "FREQ=FORTNIGHTLY" },
      "FREQ=FORTNIGHTLY is not a frequency (use YEARLY, MONTHLY, WEEKLY, DAILY",
    ],
    [{ rrule: "FREQ=DAILY;BYDAY=XX" }, 'BYDAY=XX: "XX" is not a weekday'],
    [{ rrule: "FREQ=DAILY;BYHOUR=99" }, 'BYHOUR=99: "99" is not allowed (use 0 to 23)'],
    [
      { rrule: "DTSTART:2024-13-45\nRRULE:FREQ=DAILY" },
      '"2024-13-45" is not a date-time such as 20240131T090000',
    ],
    [{ rrule: "FREQ=DAILY\nEXDATE:nonsense" }, "rrule"],
    [
      { rrule: "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30" },
      "(WEIR_SCHEDULE_TIME_BOX_MS) and was stopped: it may never match; simplify it, or use a cron or interval schedule",
    ],
    [{ cron: "0 9 * * 8" }, "field 5 (day of week)"],
    [{ cron: "0 9 * * *", timezone: "Mars/Olympus" }, 'unknown timezone "Mars/Olympus"'],
    [{ interval: 0.001 }, "shorter than the shortest allowed, 1 s (set by WEIR_MIN_INTERVAL_SECONDS)"],
    [{ interval: 1e30 }, "longer than the longest allowed, 3153600000 s (100 years)"],
    [{ interval: "P99999999D" }, "longer than the longest allowed"],
    [{ interval: 60, anchor_date: "yesterday" }, 'anchor_date "yesterday" is not an ISO 8601 date-time'],
  ])("%p is refused with a 422 and never written", async (schedule, reason) => {
    const create = await call("PUT", "/api/deployments", deployment({ schedules: [{ schedule }] }));
    expect(create.status).toBe(422);
    expect(create.json.error.message).toStartWith("schedules[0]: ");
    expect(create.json.error.message).toContain(reason);
    expect(await deploymentCount()).toBe(0);

    // and on an existing deployment, its schedules stay as they were
    const ok = await call(
      "PUT",
      "/api/deployments",
      deployment({ schedules: [{ schedule: { interval: 3600 } }] }),
    );
    expect(ok.status).toBe(201);
    const id = ok.json.deployment.id;
    expect((await call("POST", `/api/deployments/${id}/schedules`, { schedule })).status).toBe(422);
    expect(
      (await call("PUT", `/api/deployments/${id}/schedules`, { schedules: [{ schedule }] })).status,
    ).toBe(422);
    expect((await call("PUT", "/api/deployments", deployment({ schedules: [{ schedule }] }))).status).toBe(
      422,
    );
    const after = (await call("GET", `/api/deployments/${id}`)).json;
    expect(after.schedules.map((s: any) => s.schedule.interval)).toEqual([3600]);
  });

  test("a minutely rrule is taken and computed without walking every minute since 2020", async () => {
    // The 300 ms box of the other tests holds the worker's start too, which a loaded machine can
    // spend alone: this rule must be taken, so it gets the default box.
    const roomy = new DateExpander(1000);
    const a = createApp({ store, wakeups: new Wakeups(), version: "test", expander: roomy });
    const r = await callApp(
      a,
      "PUT",
      "/api/deployments",
      deployment({ schedules: [{ schedule: { rrule: "FREQ=MINUTELY" } }] }),
    );
    roomy.close();
    expect(r.status).toBe(201);
    expect(r.json.deployment.schedules[0].schedule.rrule).toBe("RRULE:FREQ=MINUTELY");
  });
});

test("slow rules from one client wait in a short queue; past it they are refused as busy, not queued", async () => {
  const busy = createApp({
    store,
    wakeups: new Wakeups(),
    version: "test",
    expander: new DateExpander(300, 1),
  });
  const never = { rrule: "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30" };
  const answers = await Promise.all(
    ["a", "b", "c", "d"].map(async (name) => {
      const res = await busy.request("/api/deployments", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(deployment({ name, schedules: [{ schedule: never }] })),
      });
      return { status: res.status, retry: res.headers.get("retry-after"), body: (await res.json()) as any };
    }),
  );
  const refused = answers.filter((a) => a.status === 503);
  expect(refused.length).toBeGreaterThan(0);
  for (const a of refused) {
    expect(a.retry).toBe("5");
    expect(a.body.error.message).toContain(
      "rrule schedules are waiting to be checked; try again in a few seconds",
    );
  }
  for (const a of answers.filter((x) => x.status !== 503)) expect(a.status).toBe(422);
  expect(await deploymentCount()).toBe(0);
});

describe("every list is paginated with a maximum", () => {
  const lists = [
    "/api/flows",
    "/api/flow-runs",
    "/api/deployments",
    "/api/work-pools",
    "/api/agents",
    "/api/blocks",
    "/api/variables",
  ];
  test.each(lists)("%s refuses a negative, NaN or too large limit and a bad offset", async (path) => {
    for (const query of [
      "limit=-1",
      "limit=abc",
      "limit=0",
      "limit=1001",
      "limit=1.5",
      "offset=-1",
      "offset=x",
    ]) {
      const r = await call("GET", `${path}?${query}`);
      expect(r.status).toBe(422);
      expect(r.json.error.message).toMatch(/is not allowed: use a whole number from \d+ to \d+/);
    }
    expect((await call("GET", `${path}?limit=1000&offset=0`)).status).toBe(200);
  });

  test("a run's logs, states and task runs too; limit and offset page through", async () => {
    const d = (await call("PUT", "/api/deployments", deployment())).json.deployment;
    const run = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    for (const path of ["logs", "states", "task-runs"]) {
      const r = await call("GET", `/api/flow-runs/${run.id}/${path}?limit=-1`);
      expect(r.status).toBe(422);
    }
    expect((await call("GET", `/api/flow-runs/${run.id}/logs?after=-5`)).status).toBe(422);
    for (let i = 0; i < 5; i++) await call("POST", `/api/deployments/${d.id}/runs`, {});
    const first = (await call("GET", "/api/flow-runs?limit=2")).json;
    const second = (await call("GET", "/api/flow-runs?limit=2&offset=2")).json;
    expect(first.length).toBe(2);
    expect(second.length).toBe(2);
    expect(second.map((x: any) => x.id)).not.toContain(first[0].id);
  });
});

describe("size and shape limits, with errors naming the limit and its setting", () => {
  test("a body over the limit is a 413 with a JSON error", async () => {
    const r = await call(
      "PUT",
      "/api/variables/big",
      undefined,
      JSON.stringify({ value: "x".repeat(17 * 1024 * 1024) }),
    );
    expect(r.status).toBe(413);
    expect(r.json.error).toEqual({
      code: "TOO_LARGE",
      message: `Request body is larger than ${DEFAULT_LIMITS.maxBodyBytes} bytes (WEIR_MAX_BODY_BYTES sets the limit)`,
    });
    expect((await store.listVariables()).length).toBe(0);
    const params = await call(
      "PUT",
      "/api/deployments",
      undefined,
      JSON.stringify(deployment({ parameters: { blob: "p".repeat(20 * 1024 * 1024) } })),
    );
    expect(params.status).toBe(413);
    expect(await deploymentCount()).toBe(0);
  });

  test("parameters, job variables, variable values and block documents are limited per field", async () => {
    const big = { blob: "x".repeat(DEFAULT_LIMITS.maxParametersBytes) };
    const p = await call("PUT", "/api/deployments", deployment({ parameters: big }));
    expect(p.status).toBe(422);
    expect(p.json.error.message).toContain(
      `parameters: is larger than ${DEFAULT_LIMITS.maxParametersBytes} bytes as JSON (WEIR_MAX_PARAMETERS_BYTES)`,
    );
    const jv = await call("PUT", "/api/deployments", deployment({ job_variables: big }));
    expect(jv.json.error.message).toContain("job_variables: is larger than");
    expect(jv.json.error.message).toContain("(WEIR_MAX_JOB_VARIABLES_BYTES)");
    const v = await call("PUT", "/api/variables/x", { value: big.blob });
    expect(v.status).toBe(422);
    expect(v.json.error.message).toContain("(WEIR_MAX_VARIABLE_BYTES)");
    const b = await call("POST", "/api/blocks", { type: "json", name: "x", data: { value: big } });
    expect(b.status).toBe(422);
    expect(b.json.error.message).toContain("(WEIR_MAX_BLOCK_BYTES)");
    expect(await deploymentCount()).toBe(0);
  });

  test("arrays nested 10,000 deep are refused before anything recursive sees them", async () => {
    const deep = `{"value": ${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
    const r = await call("PUT", "/api/variables/deep", undefined, deep);
    expect(r.status).toBe(422);
    expect(r.json.error.message).toBe(
      "Request body is nested deeper than 64 levels of arrays and objects (WEIR_MAX_JSON_DEPTH)",
    );
  });

  test("names are limited in length and refuse NUL and other control characters", async () => {
    for (const name of ["a\u0000b", "line\nbreak", "x".repeat(201)]) {
      const r = await call("PUT", "/api/deployments", deployment({ name }));
      expect(r.status).toBe(422);
      expect(r.json.error.message).toMatch(
        /name: must (not contain control characters|be at most 200 characters)/,
      );
    }
    expect((await call("PUT", "/api/variables/a%00b", { value: 1 })).status).toBe(422);
    const spaced = await call("PUT", "/api/variables/my%20var", { value: 1 });
    expect(spaced.status).toBe(422);
    expect(spaced.json.error.message).toContain("{{ prefect.variables.NAME }} can name it");
    expect((await call("PUT", "/api/variables/my_var.v-2", { value: 1 })).status).toBe(200);
    expect(await deploymentCount()).toBe(0);
  });

  test("a NUL in a log line is kept visible, not cut off; an over-long line is refused with the limit", async () => {
    const d = (await call("PUT", "/api/deployments", deployment())).json.deployment;
    const run = (await call("POST", `/api/deployments/${d.id}/runs`, {})).json;
    const line = (message: string) => ({
      flow_run_id: run.id,
      name: "t",
      level: 20,
      message,
      timestamp: new Date().toISOString(),
    });
    expect((await call("POST", "/api/logs", [line("before\u0000after")])).status).toBe(201);
    const [stored] = (await call("GET", `/api/flow-runs/${run.id}/logs`)).json;
    expect(stored.message).toBe("before\\u0000after");
    const long = await call("POST", "/api/logs", [line("y".repeat(DEFAULT_LIMITS.maxLogMessageLength + 1))]);
    expect(long.status).toBe(422);
    expect(long.json.error.message).toContain(
      "(WEIR_MAX_LOG_MESSAGE_LENGTH; the engine splits longer lines)",
    );
    const many = await call("POST", "/api/logs", Array(DEFAULT_LIMITS.maxBatch + 1).fill(line("z")));
    expect(many.status).toBe(422);
    expect(many.json.error.message).toContain("(WEIR_MAX_BATCH)");
  });
});

describe("no 500 for the client's mistake", () => {
  test("a missing field says it is required", async () => {
    const r = await call("POST", "/api/work-pools", {});
    expect(r.status).toBe(422);
    expect(r.json.error.message).toBe("Invalid request body: name: is required");
  });

  test("unknown ids are 404s, clashes 409s, wrong types 422s", async () => {
    const ghost = "01a23400-0000-7000-8000-000000000000";
    const missing = [
      ["POST", `/api/deployments/${ghost}/runs`, {}],
      [
        "POST",
        "/api/task-runs",
        { flow_run_id: ghost, name: "t", task_key: "t", state: { type: "RUNNING" } },
      ],
      [
        "POST",
        "/api/logs",
        [{ flow_run_id: ghost, name: "t", level: 20, message: "m", timestamp: new Date().toISOString() }],
      ],
      ["POST", `/api/flow-runs/${ghost}/set_state`, { type: "RUNNING" }],
      ["GET", `/api/flow-runs/${ghost}/logs`, undefined],
      ["POST", "/api/work-pools/nope/queues", { name: "q" }],
    ] as const;
    for (const [method, path, body] of missing) expect((await call(method, path, body)).status).toBe(404);
    expect((await call("POST", "/api/work-pools", { name: "local" })).status).toBe(409);
    expect((await call("PUT", "/api/deployments", { flow_name: 5, name: [] })).status).toBe(422);
    expect((await call("POST", "/api/work-pools/local/claim", { agent_id: {} })).status).toBe(422);
  });

  test("a 500 carries a request id (and the same id is on every response)", async () => {
    const seen: string[] = [];
    const broken = createApp(
      {
        // Every operation of this store fails as a broken disk would.
        store: new Proxy(store, {
          get: (target, prop) =>
            typeof target[prop as keyof typeof target] === "function"
              ? () => Promise.reject(new Error("disk on fire"))
              : target[prop as keyof typeof target],
        }),
        wakeups: new Wakeups(),
        version: "test",
      },
      { onInternalError: (_err, id) => seen.push(id) },
    );
    const res = await broken.request("/api/variables");
    expect(res.status).toBe(500);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("INTERNAL");
    expect(body.error.request_id).toBe(res.headers.get("x-request-id"));
    expect(body.error.message).toContain(body.error.request_id);
    expect(body.error.message).not.toContain("disk on fire");
    expect(seen).toEqual([body.error.request_id]);
    expect((await call("GET", "/api/health")).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});
