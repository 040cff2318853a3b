// A pool's base job template decides what its runs start with: the template's defaults, then the
// deployment's job variables, then the run's; blocks in them are resolved by the agent when the
// run starts. Through the compiled binary, with a real agent starting processes.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Env, errorLine, type Service } from "./harness.ts";

setDefaultTimeout(60_000);

const ENV_FLOW = `import { flow } from "weir";

export const show = flow({ name: "show" }, async (_p: Record<string, never>, { log }) => {
  log.info(\`greeting=\${process.env.GREETING} team=\${process.env.TEAM} token-length=\${(process.env.TOKEN ?? "").length} cwd=\${process.cwd()}\`);
});
`;

let env: Env;
let agent: Service;
beforeAll(async () => {
  env = new Env();
  await env.startServer();
});
afterAll(() => env.dispose());

const logsOf = async (id: string) => (await env.cli(["flow-run", "logs", id])).stdout;

describe("work pools with a base job template", () => {
  test("get-default-base-job-template prints the type's template; an edited one is taken by create", async () => {
    const r = await env.cli(["work-pool", "get-default-base-job-template", "--type", "process"]);
    expect(r.code).toBe(0);
    // An unknown type is the flag's mistake: exit 2, naming the types there are.
    const bogus = await env.cli(["work-pool", "get-default-base-job-template", "--type", "procss"]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain('--type: work pool type "procss" is not known (did you mean "process"?)');
    const template = JSON.parse(r.stdout);
    expect(Object.keys(template)).toEqual(["job_configuration", "variables"]);
    template.variables.properties.env.default = { GREETING: "from-the-pool", TEAM: "pool" };
    template.variables.properties.env.default.TOKEN = "{{ weir.blocks.secret.api-token }}";
    const file = join(env.root, "template.json");
    writeFileSync(file, JSON.stringify(template));
    expect(
      (await env.cli(["block", "create", "secret", "api-token", "--field", "value=s3cr3t-token-value"])).code,
    ).toBe(0);
    const created = await env.cli(["work-pool", "create", "templated", "--base-job-template", file]);
    expect(created.code).toBe(0);
    const inspect = await env.cli(["work-pool", "inspect", "templated"]);
    expect(inspect.stdout).toContain("JOB VARIABLE");
    expect(inspect.stdout).toContain("working_dir");
    agent = await env.startAgent("templated");
  });

  test("a run gets the pool's env, the deployment's over it, the run's over both; the block is resolved", async () => {
    const dir = env.project("envs", {
      "flows/show.ts": ENV_FLOW,
      "weir.yaml": `deployments:
  - name: envs
    entrypoint: flows/show.ts:show
    work_pool:
      name: templated
      job_variables:
        env: { TEAM: deployment }
`,
    });
    expect((await env.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
    const first = await env.json(["deployment", "run", "show/envs"]);
    await env.waitForRun(first.id, (x) => x.state.type === "COMPLETED");
    const logs = await logsOf(first.id);
    expect(logs).toContain("greeting=from-the-pool team=deployment token-length=18");
    const second = await env.json(["deployment", "run", "show/envs", "--job-variable", 'env={"TEAM":"run"}']);
    await env.waitForRun(second.id, (x) => x.state.type === "COMPLETED");
    expect(await logsOf(second.id)).toContain("greeting=from-the-pool team=run token-length=18");
    // The secret reached the flow but never the agent's output or the stored run.
    expect(agent.out).not.toContain("s3cr3t-token-value");
    expect(JSON.stringify(await env.json(["flow-run", "inspect", second.id]))).not.toContain("s3cr3t");
  });

  test("working_dir puts the run in that folder (and its entrypoint is found there)", async () => {
    const wd = join(env.root, "work-here");
    const dir = env.project("wd", {
      "flows/show.ts": ENV_FLOW,
      "weir.yaml": `deployments:
  - name: wd
    entrypoint: flows/show.ts:show
    pull: []
    work_pool: { name: templated, job_variables: { working_dir: ${wd} } }
`,
    });
    env.project("work-here", { "flows/show.ts": ENV_FLOW });
    expect((await env.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
    const run = await env.json(["deployment", "run", "show/wd"]);
    await env.waitForRun(run.id, (x) => x.state.type === "COMPLETED");
    expect(await logsOf(run.id)).toContain(`cwd=${wd}`);
  });

  test("pull: [] with no working_dir starts runs in the project folder, as Prefect's empty list does", async () => {
    const dir = env.project("empty-pull", {
      "flows/show.ts": ENV_FLOW,
      "weir.yaml": `deployments:
  - name: empty
    entrypoint: flows/show.ts:show
    pull: []
    work_pool: { name: templated }
`,
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`no pull steps defined: runs will start in ${dir}`);
    const run = await env.json(["deployment", "run", "show/empty"]);
    await env.waitForRun(run.id, (x) => x.state.type === "COMPLETED");
    expect(await logsOf(run.id)).toContain(`cwd=${dir}`);
  });

  test("a run whose job configuration cannot be used crashes with the reason, not silently", async () => {
    // The template is changed under a deployment: its env default now names a block that does not exist.
    const template = JSON.parse(
      (await env.cli(["work-pool", "get-default-base-job-template", "--type", "process"])).stdout,
    );
    template.variables.properties.env.default = { TOKEN: "{{ weir.blocks.secret.missing }}" };
    const file = join(env.root, "broken.json");
    writeFileSync(file, JSON.stringify(template));
    const updated = await env.cli(["work-pool", "update", "templated", "--base-job-template", file]);
    expect(updated.code).toBe(0);
    const run = await env.json(["deployment", "run", "show/envs"]);
    const done = await env.waitForRun(run.id, (x) => x.state.type === "CRASHED");
    expect(done.state.message).toContain('Block "secret/missing" does not exist');
  });

  test("a template file that is not JSON is refused at its line and column", async () => {
    const file = join(env.root, "bad.json");
    writeFileSync(file, '{\n  "job_configuration": {,\n}');
    const r = await env.cli(["work-pool", "create", "bad", "--base-job-template", file]);
    expect(r.code).toBe(2);
    expect(errorLine(r).line).toMatch(/^weir: .*bad\.json:2:\d+: /);
    expect(readFileSync(file, "utf8")).toContain("job_configuration");
  });
});
