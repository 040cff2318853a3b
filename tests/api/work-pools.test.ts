import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Hono } from "hono";
import { createApp, Wakeups } from "../../core/api/index.ts";
import { callApp, tempStore } from "../helpers.ts";

let store: Awaited<ReturnType<typeof tempStore>>;
let app: Hono;

beforeEach(async () => {
  store = await tempStore();
  app = createApp({ store, wakeups: new Wakeups(), version: "test" });
});
afterEach(() => store.dispose());

const call = (method: string, path: string, body?: unknown) => callApp(app, method, path, body);

const deployment = (job_variables: Record<string, unknown>) => ({
  flow_name: "hello",
  name: "daily",
  entrypoint: "flows/hello.ts:hello",
  work_pool_name: "local",
  job_variables,
});

describe("work pool types and base job templates", () => {
  test("a new pool gets its type's default template, also served on its own", async () => {
    const created = await call("POST", "/api/work-pools", { name: "local", type: "process" });
    expect(created.status).toBe(201);
    const byType = await call("GET", "/api/work-pool-types/process/base-job-template");
    expect(byType.status).toBe(200);
    expect(created.json.base_job_template).toEqual(byType.json);
    expect(byType.json.job_configuration.working_dir).toBe("{{ working_dir }}");
  });

  test("an unknown type is refused with the types this build runs", async () => {
    const res = await call("POST", "/api/work-pools", { name: "k", type: "kubernetes" });
    expect(res.status).toBe(422);
    expect(res.json.error.message).toContain('work pool type "kubernetes" is not known');
    expect(res.json.error.message).toContain("this build runs: process");
  });

  test("a template given is checked against the type; a valid one is kept as given", async () => {
    const bad = await call("POST", "/api/work-pools", {
      name: "p",
      base_job_template: { job_configuration: { image: "{{ image }}" }, variables: {} },
    });
    expect(bad.status).toBe(422);
    expect(bad.json.error.message).toContain("job_configuration.image is not a setting of process");
    const custom = {
      job_configuration: { working_dir: "/srv/{{ team }}" },
      variables: { type: "object", properties: { team: { type: "string", default: "data" } } },
    };
    const ok = await call("POST", "/api/work-pools", { name: "p", base_job_template: custom });
    expect(ok.status).toBe(201);
    expect(ok.json.base_job_template).toEqual(custom);
  });

  test("PATCH changes the template, checked the same way", async () => {
    await call("POST", "/api/work-pools", { name: "local" });
    const bad = await call("PATCH", "/api/work-pools/local", { base_job_template: { variables: {} } });
    expect(bad.status).toBe(422);
    expect(bad.json.error.message).toContain("job_configuration must be an object");
    const ok = await call("PATCH", "/api/work-pools/local", { description: "ours", concurrency_limit: 3 });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ description: "ours", concurrency_limit: 3 });
    expect(ok.json.base_job_template.job_configuration.env).toBe("{{ env }}");
  });
});

describe("job variables are checked against the pool's template", () => {
  beforeEach(async () => {
    await call("POST", "/api/work-pools", { name: "local" });
  });

  test("a deployment with an unknown or mistyped one is refused, and nothing is written", async () => {
    const res = await call("PUT", "/api/deployments", deployment({ workdir: "/x", stream_output: "no" }));
    expect(res.status).toBe(422);
    expect(res.json.error.message).toContain('unknown job variable "workdir"');
    expect(res.json.error.message).toContain('job variable "stream_output" must be boolean');
    expect((await call("GET", "/api/deployments")).json).toEqual([]);
  });

  test("a block placeholder is left for the agent to resolve when the run starts", async () => {
    const res = await call(
      "PUT",
      "/api/deployments",
      deployment({ env: { TOKEN: "{{ weir.blocks.secret.token }}" } }),
    );
    expect(res.status).toBe(201);
    expect(res.json.deployment.job_variables.env.TOKEN).toBe("{{ weir.blocks.secret.token }}");
  });

  test("a run's own job variables merge env name by name and are checked with the deployment's", async () => {
    const d = (await call("PUT", "/api/deployments", deployment({ env: { A: "1", B: "2" } }))).json
      .deployment;
    const bad = await call("POST", `/api/deployments/${d.id}/runs`, { job_variables: { labels: "x" } });
    expect(bad.status).toBe(422);
    expect(bad.json.error.message).toContain('job variable "labels" must be object');
    const run = await call("POST", `/api/deployments/${d.id}/runs`, { job_variables: { env: { B: "run" } } });
    expect(run.status).toBe(201);
    expect(run.json.job_variables).toEqual({ env: { A: "1", B: "run" } });
  });
});
