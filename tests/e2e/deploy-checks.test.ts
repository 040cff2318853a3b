// Deploy refuses, with file:line:column, what every run would refuse later: mis-indented steps,
// unknown step names, default parameters the flow's schema rejects. Through the compiled binary.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Env, errorLine, HELLO_FLOW } from "./harness.ts";

setDefaultTimeout(60_000);

let env: Env;
beforeAll(async () => {
  env = new Env();
  await env.startServer();
  await env.cli(["work-pool", "create", "local"]);
});
afterAll(() => env.dispose());

const deployment = async (name: string) =>
  fetch(`${env.apiUrl}/deployments/name/hello/${name}`).then((r) => r.status);

describe("deploy and --dry-run check what the run would refuse", () => {
  test("a mis-indented pull step is refused at its line, and nothing is deployed", async () => {
    const dir = env.project("misindented", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `pull:
  - weir.steps.set_working_directory:
    directory: /tmp
deployments:
  - name: misindented
    entrypoint: flows/hello.ts:hello
    parameters: { name: X }
    work_pool: { name: local }
`,
    });
    for (const args of [
      ["deploy", "--all"],
      ["deploy", "--all", "--dry-run"],
    ]) {
      const r = await env.cli(args, { cwd: dir });
      expect(r.code).toBe(1);
      expect(errorLine(r).line).toBe(
        'weir: weir.yaml:2:5: pull step 1: the step "weir.steps.set_working_directory" has its arguments (directory) beside its name instead of under it: indent them two more spaces, below "weir.steps.set_working_directory:"',
      );
      expect(errorLine(r).stack).toBe(false);
    }
    expect(await deployment("misindented")).toBe(404);
  });

  test("a Date parameter, which JSON cannot carry to a run, is refused with what to take instead", async () => {
    const dir = env.project("dated", {
      "flows/dated.ts": `import * as v from "valibot";
import { flow } from "weir";
export const dated = flow({ name: "dated", params: v.object({ when: v.date(), since: v.optional(v.date()) }) }, async () => {});
`,
      "weir.yaml": `deployments:
  - name: dated
    entrypoint: flows/dated.ts:dated
    work_pool: { name: local }
`,
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'weir.yaml:2:5: deployment "dated": parameter "when" of flow "dated" is a Date (v.date()), and runs get their parameters as JSON',
    );
    expect(r.stdout).toContain("take v.pipe(v.string(), v.isoTimestamp())");
    expect((await fetch(`${env.apiUrl}/deployments/name/dated/dated`)).status).toBe(404);
  });

  test("template mistakes that would store nothing are said: a variable or env var not there, a step field typo, a block missing", async () => {
    const dir = env.project("template-notes", {
      "flows/free.ts":
        'import { flow } from "weir";\nexport const free = flow({ name: "free" }, async () => {});\n',
      "weir.yaml": `build:
  - weir.steps.run_shell_script: { id: commit, script: "echo abc" }
deployments:
  - name: notes
    entrypoint: flows/free.ts:free
    work_pool: { name: local }
    version: "v-{{ commit.stdot }}"
    parameters: { who: "{{ prefect.variables.nope }}", home: "{{ $NOPE_ENV_X }}", pw: "{{ prefect.blocks.secret.nope }}" }
`,
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'weir.yaml:7:14: {{ commit.stdot }}: step commit has no output "stdot" (it has: stdout, stderr); it is left out (did you mean {{ commit.stdout }}?)',
    );
    expect(r.stdout).toContain('{{ weir.variables.nope }} names no variable: it is stored as ""');
    expect(r.stdout).toContain(
      '{{ $NOPE_ENV_X }}: NOPE_ENV_X is not set in this environment: it is stored as ""',
    );
    expect(r.stdout).toContain("parameters use block secret/nope, which does not exist yet");
  });

  test("a block placeholder inside text is refused at its field before any step runs", async () => {
    const dir = env.project("block-in-text", {
      "flows/free.ts":
        'import { flow } from "weir";\nexport const free = flow({ name: "free" }, async () => {});\n',
      "weir.yaml": `build:
  - weir.steps.run_shell_script: { script: "touch BUILD_RAN" }
deployments:
  - name: texty
    entrypoint: flows/free.ts:free
    work_pool: { name: local }
    description: "token {{ prefect.blocks.secret.gh-token }}"
    pull:
      - weir.steps.run_shell_script: { script: "echo {{ prefect.blocks.secret.gh-token }}" }
`,
    });
    for (const args of [
      ["deploy", "--all", "--dry-run"],
      ["deploy", "--all"],
    ]) {
      const r = await env.cli(args, { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain(
        'weir.yaml:7:18: "token {{ prefect.blocks.secret.gh-token }}" holds a block placeholder inside other text',
      );
      // In a pull step's script too (it failed on every run).
      expect(r.stdout + r.stderr).toContain(
        'weir.yaml:9:48: "echo {{ prefect.blocks.secret.gh-token }}" holds a block placeholder inside other text',
      );
    }
    expect(existsSync(join(dir, "BUILD_RAN"))).toBe(false);
  });

  test("a misspelt step name gets a did-you-mean", async () => {
    const dir = env.project("typo", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `deployments:
  - name: typo
    entrypoint: flows/hello.ts:hello
    work_pool: { name: local }
    pull:
      - prefect.deployments.steps.get_clone: { repository: https://example.com/x.git }
`,
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'weir.yaml:6:9: pull step 1: no such step "prefect.deployments.steps.get_clone" (did you mean "prefect.deployments.steps.git_clone"?)',
    );
    expect(await deployment("typo")).toBe(404);
  });

  test("default parameters the flow refuses are named at their position, in deploy and --dry-run", async () => {
    const dir = env.project("params", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `deployments:
  - name: params
    entrypoint: flows/hello.ts:hello
    parameters:
      name: Ada
      times: [1, 2]
    work_pool: { name: local }
`,
    });
    for (const args of [
      ["deploy", "--all"],
      ["deploy", "--all", "--dry-run"],
    ]) {
      const r = await env.cli(args, { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(
        'weir.yaml:6:14: deployment "params": parameter "times" must be number (got array [1,2]) (fix the default to what the flow "hello" takes)',
      );
    }
    expect(await deployment("params")).toBe(404);
    const flag = await env.cli(["deploy", "-n", "params", "--param", "times=many", "--dry-run"], {
      cwd: dir,
    });
    expect(flag.stdout).toContain('--param times: parameter "times" must be number (got string "many")');
  });

  test("a placeholder default is checked once resolved, by the real deploy", async () => {
    const dir = env.project("resolved", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `deployments:
  - name: resolved
    entrypoint: flows/hello.ts:hello
    parameters: { name: Ada, times: "{{ weir.variables.times }}" }
    work_pool: { name: local }
`,
    });
    expect((await env.cli(["variable", "set", "times", "lots"])).code).toBe(0);
    expect((await env.cli(["deploy", "--all", "--dry-run"], { cwd: dir })).code).toBe(0);
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('parameter "times" must be number (got string "lots")');
    expect((await env.cli(["variable", "set", "times", "3"])).code).toBe(0);
    // a name no placeholder could spell is refused when it is set, not when a deploy misses it
    const spaced = await env.cli(["variable", "set", "my times", "3"]);
    expect(spaced.code).not.toBe(0);
    expect(spaced.stderr).toContain("variable name: may hold letters, digits, '_', '.' and '-' only");
    const ok = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(ok.code).toBe(0);
    // no agent polls pool "local" here, so deploy says to start one
    expect(ok.stdout).toContain("start an agent:      weir agent --pool local");
  });

  test("the API refuses defaults its runs would refuse (any client, not only the CLI)", async () => {
    const res = await fetch(`${env.apiUrl}/deployments`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        flow_name: "hello",
        name: "api",
        parameters: { times: "x" },
        parameter_openapi_schema: {
          type: "object",
          properties: { name: { type: "string" }, times: { type: "number" } },
          required: ["name"],
        },
      }),
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toBe(
      'Invalid parameters for deployment "hello/api" (its default parameters): parameter "times" must be number (got string "x")',
    );
  });

  test("deploy notes a required parameter with no default and a block the pull steps name that does not exist", async () => {
    const dir = env.project("notes", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `pull:
  - weir.steps.git_clone:
      repository: https://example.com/acme/flows.git
      credentials: "{{ weir.blocks.github-credentials.not-yet }}"
deployments:
  - name: notes
    entrypoint: flows/hello.ts:hello
    work_pool: { name: local }
`,
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'note: the flow requires "name" and the deployment gives no default: every run must pass it (--param name=...)',
    );
    expect(r.stdout).toContain(
      "note: pull steps use block github-credentials/not-yet, which does not exist yet: runs will fail until it is created",
    );
    const dry = await env.cli(["deploy", "--all", "--dry-run"], { cwd: dir });
    expect(dry.stdout).toContain("Dry run: no step runs and no server is asked");
  });

  test("job variables the pool refuses are refused at their place in the file; the deployment is not written", async () => {
    const dir = env.project("jobvars", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `deployments:
  - name: jobvars
    entrypoint: flows/hello.ts:hello
    parameters: { name: X }
    work_pool:
      name: local
      job_variables:
        stream_output: "yes"
        workdir: /srv
`,
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✗ hello/jobvars not deployed:");
    expect(r.stdout).toContain(
      'weir.yaml:8:24: deployment "jobvars": job variable "stream_output" must be boolean (got string "yes") in work pool "local" (process)',
    );
    expect(r.stdout).toContain('weir.yaml:9:18: deployment "jobvars": unknown job variable "workdir"');
    expect(r.stdout).toContain("working_dir");
    expect(errorLine(r).stack).toBe(false);
    expect(await deployment("jobvars")).toBe(404);
    const flag = await env.cli(["deploy", "--all", "--job-variable", "stream_output=maybe"], {
      cwd: env.project("jobvars-flag", {
        "flows/hello.ts": HELLO_FLOW,
        "weir.yaml":
          "deployments:\n  - { name: jobvars-flag, entrypoint: flows/hello.ts:hello, parameters: { name: X }, work_pool: { name: local } }\n",
      }),
    });
    expect(flag.code).toBe(1);
    expect(flag.stdout).toContain(
      '--job-variable stream_output: job variable "stream_output" must be boolean',
    );
  });

  test("a block in job variables stays a placeholder in the deployment, noted when it does not exist", async () => {
    const dir = env.project("jobvar-block", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `deployments:
  - name: jobvar-block
    entrypoint: flows/hello.ts:hello
    parameters: { name: X }
    work_pool:
      name: local
      job_variables:
        env: { TOKEN: "{{ weir.blocks.secret.not-yet }}" }
`,
    });
    const r = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("note: job variables use block secret/not-yet, which does not exist yet");
    const d = (await fetch(`${env.apiUrl}/deployments/name/hello/jobvar-block`).then((x) => x.json())) as {
      job_variables: { env: Record<string, string> };
    };
    expect(d.job_variables.env.TOKEN).toBe("{{ weir.blocks.secret.not-yet }}");
  });
});
