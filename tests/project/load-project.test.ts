import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_LIMITS } from "../../core/config/index.ts";
import { findProjectFile, loadProject, selectDeployments } from "../../core/project/index.ts";
import { registry, tempDir } from "../helpers.ts";

function load(yaml: string, name = "weir.yaml") {
  using dir = tempDir();
  const file = join(dir.path, name);
  writeFileSync(file, yaml);
  return loadProject(file, { cwd: dir.path, registry });
}

const errorOf = (yaml: string): string => {
  try {
    load(yaml);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
};

describe("loadProject()", () => {
  test("reads deployments with their fields", () => {
    const p = load(`
name: demo
deployments:
  - name: daily
    entrypoint: flows/hello.ts:hello
    parameters: { name: World }
    tags: [a, b]
    work_pool: { name: local, work_queue_name: q, job_variables: { env: { A: "1" } } }
`);
    expect(p.name).toBe("demo");
    const [d] = p.deployments;
    expect(d?.name).toBe("daily");
    expect(d?.parameters).toEqual({ name: "World" });
    expect(d?.work_pool?.job_variables).toEqual({ env: { A: "1" } });
    expect(d?.pos.line).toBe(4);
  });

  test("anchors, aliases and << merge keys work, including in step lists", () => {
    const p = load(`
definitions:
  work_pools:
    local: &local
      name: local
      work_queue_name: default
  steps:
    cwd: &cwd
      weir.steps.set_working_directory:
        directory: /tmp
  params: &params
    name: Ada
    times: 2
deployments:
  - name: a
    entrypoint: f.ts:a
    work_pool: *local
    pull: [*cwd]
    parameters:
      <<: *params
      times: 3
  - name: b
    entrypoint: f.ts:b
    work_pool:
      <<: *local
      work_queue_name: other
`);
    const [a, b] = p.deployments;
    expect(a?.work_pool).toEqual({ name: "local", work_queue_name: "default" });
    expect(a?.pull).toEqual([{ "weir.steps.set_working_directory": { directory: "/tmp" } }]);
    expect(a?.parameters).toEqual({ name: "Ada", times: 3 });
    expect(b?.work_pool).toEqual({ name: "local", work_queue_name: "other" });
  });

  test("a per-deployment section replaces the top-level one when present, even as null", () => {
    const p = load(`
pull:
  - weir.steps.set_working_directory: { directory: /top }
deployments:
  - name: a
    entrypoint: f.ts:a
  - name: b
    entrypoint: f.ts:b
    pull: null
`);
    expect(p.overrides.map((o) => o.pull)).toEqual([false, true]);
    expect(p.deployments[1]?.pull).toBeNull();
  });

  test("YAML syntax errors carry file:line:column and the line", () => {
    const msg = errorOf("deployments:\n  - name: a\n    entrypoint: [x\n");
    expect(msg).toMatch(/^weir\.yaml:\d+:\d+: YAML syntax error/);
  });

  test("an unknown field gets a did-you-mean hint at its position", () => {
    const msg = errorOf("deployments:\n  - name: a\n    entrypoint: f.ts:a\n    paramters: {}\n");
    expect(msg).toContain(
      'weir.yaml:4:5: unknown field "paramters" in deployment #1 (did you mean "parameters"?)',
    );
    expect(msg).toContain("4 |     paramters: {}");
  });

  test("a wrong type names the field path and position", () => {
    const msg = errorOf("deployments:\n  - name: a\n    tags: nope\n");
    expect(msg).toContain("weir.yaml:3:11: deployments[0].tags: must be a list of strings");
  });

  test("other top-level keys are allowed, near-misses of known ones are not", () => {
    expect(() => load("definitions: {x: 1}\ndeployments:\n  - name: a\n")).not.toThrow();
    expect(errorOf("deploymnets: []\ndeployments:\n  - name: a\n")).toContain(
      'unknown top-level field "deploymnets" (did you mean "deployments"?)',
    );
  });

  test("a file without deployments says what to add", () => {
    expect(errorOf("name: x\n")).toContain("no deployments are defined");
  });

  test("all problems are reported at once", () => {
    const msg = errorOf("deployments:\n  - name: a\n    tagz: []\n  - name: b\n    paused: maybe\n");
    expect(msg).toContain('unknown field "tagz"');
    expect(msg).toContain("deployments[1].paused");
  });
});

describe("findProjectFile()", () => {
  test("prefers weir.yaml, falls back to prefect.yaml, and explains when neither exists", () => {
    using dir = tempDir();
    expect(() => findProjectFile(dir.path)).toThrow(/No weir.yaml \(or prefect.yaml\)/);
    writeFileSync(join(dir.path, "prefect.yaml"), "deployments: []\n");
    expect(findProjectFile(dir.path)).toEndWith("prefect.yaml");
    writeFileSync(join(dir.path, "weir.yaml"), "deployments: []\n");
    expect(findProjectFile(dir.path)).toEndWith("weir.yaml");
    expect(() => findProjectFile(dir.path, "nope.yaml")).toThrow(/nope.yaml does not exist \(check --file\)/);
  });
});

describe("selectDeployments()", () => {
  const items = [
    { name: "daily", flowName: "etl" },
    { name: "hourly", flowName: "etl" },
    { name: "daily", flowName: "report" },
  ];
  test("by name, FLOW/NAME and globs", () => {
    expect(selectDeployments(items, ["etl/daily"], false, "f")).toEqual([items[0]!]);
    expect(selectDeployments(items, ["daily"], false, "f")).toEqual([items[0]!, items[2]!]);
    expect(selectDeployments(items, ["etl/*"], false, "f")).toEqual([items[0]!, items[1]!]);
    expect(selectDeployments(items, ["*ly"], false, "f").length).toBe(3);
  });
  test("--all takes everything; no selection with several is a usage error", () => {
    expect(selectDeployments(items, [], true, "f").length).toBe(3);
    expect(() => selectDeployments(items, [], false, "weir.yaml")).toThrow(
      /choose with --name NAME .* or deploy them all with --all/,
    );
  });
  test("a name that matches nothing lists what is defined", () => {
    expect(() => selectDeployments(items, ["weekly"], false, "weir.yaml")).toThrow(
      /matches "weekly" \(defined: etl\/daily, etl\/hourly, report\/daily\)/,
    );
  });
});

describe("concurrency_limit and triggers", () => {
  test("a number or {limit, collision_strategy}; anything else is named", () => {
    const p = load(
      "deployments:\n  - name: a\n    concurrency_limit: 2\n    triggers: [{ type: event, expect: [x] }]\n  - name: b\n    concurrency_limit: { limit: 1, collision_strategy: CANCEL_NEW }\n",
    );
    expect(p.deployments[0]?.concurrency_limit).toBe(2);
    expect(p.deployments[0]?.triggers).toEqual([{ type: "event", expect: ["x"] }]);
    expect(p.deployments[1]?.concurrency_limit).toEqual({ limit: 1, collision_strategy: "CANCEL_NEW" });
    expect(
      errorOf("deployments:\n  - name: a\n    concurrency_limit: { limit: 1, collision_strategy: WAIT }\n"),
    ).toContain(
      'weir.yaml:3:56: concurrency_limit.collision_strategy: must be ENQUEUE (wait for a slot) or CANCEL_NEW (cancel the new run), got "WAIT"',
    );
    expect(errorOf("deployments:\n  - name: a\n    concurrency_limit: [1]\n")).toContain(
      "deployments[0].concurrency_limit: must be a whole number, or { limit: N, collision_strategy: ENQUEUE | CANCEL_NEW }",
    );
  });
});

describe("steps are checked when the file is read (deploy and --dry-run alike)", () => {
  test("a step whose arguments sit beside its name is refused at its position, with the fix", () => {
    const msg = errorOf(
      "pull:\n  - weir.steps.git_clone:\n    repository: https://example.com/x.git\n    branch: main\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
    );
    expect(msg).toContain(
      'weir.yaml:2:5: pull step 1: the step "weir.steps.git_clone" has its arguments (repository, branch) beside its name instead of under it: indent them two more spaces',
    );
  });

  test("in build, push and per-deployment pull too; a step that is not a mapping is named", () => {
    const msg = errorOf(
      "build:\n  - weir.steps.run_shell_script\npush:\n  - weir.steps.run_shell_script: echo hi\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n    pull:\n      - weir.steps.set_working_directory:\n        directory: /tmp\n",
    );
    expect(msg).toContain("weir.yaml:2:5: build step 1: a step must be a mapping of one step name");
    expect(msg).toContain(
      'weir.yaml:4:5: push step 1: the arguments of step "weir.steps.run_shell_script" must be a mapping',
    );
    expect(msg).toContain(
      'weir.yaml:9:9: pull step 1: the step "weir.steps.set_working_directory" has its arguments',
    );
  });

  test("a misspelt step name gets a did-you-mean; Prefect's names (all eras) resolve", () => {
    const msg = errorOf(
      "pull:\n  - prefect.deployments.steps.pip_install_requiements: {}\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
    );
    expect(msg).toContain(
      'weir.yaml:2:5: pull step 1: no such step "prefect.deployments.steps.pip_install_requiements" (did you mean "prefect.deployments.steps.pip_install_requirements"?)',
    );
    expect(() =>
      load(
        "pull:\n  - prefect.projects.steps.set_working_directory: { directory: /tmp }\n  - prefect.deployments.steps.utility.pip_install_requirements: {}\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
      ),
    ).not.toThrow();
  });

  test("package steps need requires:, build module steps must exist, pull module steps are found at run time", () => {
    expect(
      errorOf(
        "build:\n  - weir-steps-demo/steps:main: {}\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
      ),
    ).toContain("step package weir-steps-demo is not installed: add `requires: weir-steps-demo@VERSION`");
    expect(
      errorOf("build:\n  - ./steps/x.ts:main: {}\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n"),
    ).toContain("build step 1: step module ./steps/x.ts does not exist");
    expect(() =>
      load(
        "build:\n  - weir-steps-demo/steps:main: { requires: weir-steps-demo@1.0.0 }\npull:\n  - ./steps/x.ts:main: {}\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
      ),
    ).not.toThrow();
  });

  test("requires: naming Prefect's own package on a step Weir has built in is satisfied, not installed", () => {
    const p = load(
      "push:\n  - prefect_aws.deployments.steps.push_to_s3:\n      requires: prefect-aws>=0.3.4\n      bucket: flows\n      folder: x\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
    );
    expect(p.deployments[0]?.unsupported).toEqual([]);
    expect(registry.step("prefect_aws.deployments.steps.push_to_s3")?.name).toBe("weir.steps.push_to_s3");
  });

  test("a step whose plugin this build lacks is not a file error: each deployment using it carries the reason", () => {
    const p = load(
      "build:\n  - prefect_gcp.deployments.steps.push_to_gcs: { bucket: x, folder: y, requires: prefect-gcp }\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n  - name: b\n    entrypoint: f.ts:b\n    build: []\n",
    );
    expect(p.deployments[0]?.unsupported).toEqual([
      expect.stringContaining(
        'weir.yaml:2:5: build step 1: step "prefect_gcp.deployments.steps.push_to_gcs" needs Weir\'s gcs plugin',
      ),
    ]);
    expect(p.deployments[1]?.unsupported).toEqual([]);
  });

  test("an unquoted placeholder (YAML's mapping in a mapping) is an error at its place, with the quoting meant", () => {
    expect(
      errorOf(
        "deployments:\n  - name: a\n    entrypoint: f.ts:a\n    parameters: { name: {{ prefect.variables.who }} }\n",
      ),
    ).toContain(
      'weir.yaml:4:25: a placeholder must be quoted: write "{{ prefect.variables.who }}" (unquoted, YAML reads {{ ... }} as a mapping inside a mapping)',
    );
    expect(errorOf("deployments:\n  - name: a\n    entrypoint: f.ts:a\n    tags: { [a, b]: 1 }\n")).toContain(
      "weir.yaml:4:11: a mapping or list is used as a key here",
    );
  });

  test("git_clone: an abbreviated commit_sha (no server fetches one) is refused at deploy", () => {
    expect(
      errorOf(
        "pull:\n  - prefect.deployments.steps.git_clone: { repository: https://x.invalid/r.git, commit_sha: dcb134a }\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
      ),
    ).toContain("must be a commit's full hash (40 hexadecimal characters");
  });

  test("pull_from_s3 without a folder is refused, as Prefect requires it (it would fetch the whole bucket)", () => {
    expect(
      errorOf(
        "pull:\n  - prefect_aws.deployments.steps.pull_from_s3: { bucket: flows }\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
      ),
    ).toContain(
      'weir.yaml:2:5: pull step 1 (prefect_aws.deployments.steps.pull_from_s3): argument "folder" is required',
    );
  });

  test("a step of a Prefect Python integration Weir lacks is named as such, not as a near step", () => {
    const p = load(
      "build:\n  - prefect_dbt.deployments.steps.run_dbt: { requires: prefect-dbt>=0.4 }\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
    );
    const [msg] = p.deployments[0]!.unsupported;
    expect(msg).toContain(
      'weir.yaml:2:5: build step 1: step "prefect_dbt.deployments.steps.run_dbt" comes from Prefect\'s Python package prefect-dbt, and Weir runs no Python: run its command with weir.steps.run_shell_script',
    );
    expect(msg).not.toContain("did you mean");
    // A typo of a step Weir has keeps its did-you-mean.
    expect(
      errorOf(
        "push:\n  - prefect_aws.deployments.steps.push_to_s4: { bucket: b, folder: f }\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n",
      ),
    ).toContain('(did you mean "prefect_aws.deployments.steps.push_to_s3"?)');
  });

  test("a field of the wrong kind is named in YAML's words, with the shape people mean", () => {
    const err = (() => {
      try {
        load("deployments:\n  - name: a\n    entrypoint: f.ts:a\n    work_pool: local\n    pull: 5\n");
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error("expected an error");
    })();
    expect(err).toContain(
      'weir.yaml:4:16: deployments[0].work_pool: must be a mapping (key: value lines, or { key: value }), such as work_pool: { name: local } (got the text "local")',
    );
    expect(err).toContain("deployments[0].pull: must be a list of steps");
    expect(err).not.toContain("Invalid type");
  });

  test("Prefect's steps that run a storage block's Python code are named as not supported yet, with what to use", () => {
    for (const step of [
      "prefect.deployments.steps.pull_with_block",
      "prefect.deployments.steps.pull.pull_from_remote_storage",
    ]) {
      const p = load(
        `pull:\n  - ${step}: { block_document_name: x }\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n`,
      );
      expect(p.deployments[0]?.unsupported).toEqual([
        expect.stringContaining(
          `weir.yaml:2:5: pull step 1: step "${step}" is not supported yet (it runs a storage block's Python code, and Weir runs no Python); pull with the storage's own step instead`,
        ),
      ]);
    }
  });
});

describe("what Prefect accepts is accepted, with a warning where Weir ignores it", () => {
  test("work_pool.type and a deployment-level job_variables are ignored, and where they belong is said", () => {
    const p = load(
      "deployments:\n  - name: a\n    entrypoint: f.ts:a\n    job_variables: { image: x }\n    work_pool:\n      name: local\n      type: process\n",
    );
    expect(p.warnings).toEqual([
      expect.stringContaining(
        'weir.yaml:4:5: "job_variables" in deployment #1 is not a field Weir uses; it is ignored: it belongs under work_pool:',
      ),
      expect.stringContaining(
        'weir.yaml:7:7: "type" in deployment #1 work_pool is not a field Weir uses; it is ignored: a pool\'s type is set when it is created',
      ),
    ]);
    expect(p.deployments[0]?.work_pool).toEqual({ name: "local" });
  });

  test("unknown keys that are not typos are warnings; typos of Weir's own keys stay errors", () => {
    const p = load(
      "deployments:\n  - name: a\n    entrypoint: f.ts:a\n    environment: prod\n    work_pool: { name: local, flow_variables: {} }\n",
    );
    expect(p.warnings.length).toBe(2);
    expect(
      errorOf("deployments:\n  - name: a\n    entrypoint: f.ts:a\n    work_pool: { nmae: local }\n"),
    ).toContain('unknown field "nmae" in deployment #1 work_pool (did you mean "name"?)');
  });

  test("a key written twice: the later one is used and the earlier one named", () => {
    const p = load("deployments:\n  - name: a\n    entrypoint: f.ts:a\n    tags: [x]\n    tags: [y]\n");
    expect(p.deployments[0]?.tags).toEqual(["y"]);
    expect(p.warnings).toEqual([
      expect.stringContaining('weir.yaml:5:5: "tags" is written twice in this mapping (also on line 4)'),
    ]);
  });

  test("empty mappings where lists belong, and a limit-less concurrency_limit", () => {
    const p = load(
      "build: {}\ndeployments:\n  - name: a\n    entrypoint: f.ts:a\n    schedules: {}\n    concurrency_limit: { collision_strategy: CANCEL_NEW }\n  - name: b\n    entrypoint: f.ts:b\n    schedule: []\n",
    );
    expect(p.build).toEqual([]);
    expect(p.deployments.map((d) => d.scheduleItems)).toEqual([[], []]);
    expect(p.deployments[0]?.concurrency_limit).toBeNull();
    expect(p.warnings).toEqual([expect.stringContaining("concurrency_limit has no limit")]);
  });

  test("a name defined twice for one entrypoint: the later replaces the earlier, as in Prefect", () => {
    const p = load(
      "deployments:\n  - name: a\n    entrypoint: f.ts:a\n    tags: [old]\n  - name: a\n    entrypoint: f.ts:a\n    tags: [new]\n",
    );
    expect(p.deployments.map((d) => d.replaced)).toEqual([true, false]);
    expect(p.warnings).toEqual([
      expect.stringContaining(
        'weir.yaml:5:11: deployment "a" is defined twice for the same entrypoint (also at line 2)',
      ),
    ]);
  });
});

describe("hostile project files", () => {
  test("an alias bomb (billion laughs) is refused quickly, naming the limit", () => {
    let yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i < 10; i++)
      yaml += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    yaml += "deployments:\n  - name: a\n    entrypoint: f.ts:a\n    parameters: { bomb: *a9 }\n";
    expect(errorOf(yaml)).toContain(
      "weir.yaml:1:1: its aliases expand to more than 10000 nodes, which looks like an alias bomb",
    );
  });

  test("a file over the size limit is refused before it is parsed, naming the setting", () => {
    using dir = tempDir();
    const file = join(dir.path, "weir.yaml");
    writeFileSync(
      file,
      `deployments:\n  - name: a\n    entrypoint: f.ts:a\n# ${"x".repeat(5 * 1024 * 1024)}\n`,
    );
    expect(() => loadProject(file, { cwd: dir.path })).toThrow(
      /weir\.yaml is \d+ bytes, over the 4194304-byte limit for a project file \(WEIR_MAX_PROJECT_FILE_BYTES raises it\)/,
    );
    expect(() =>
      loadProject(file, {
        cwd: dir.path,
        limits: { ...DEFAULT_LIMITS, maxProjectFileBytes: 8 * 1024 * 1024 },
      }),
    ).not.toThrow();
  });

  test("schedules in the file follow the same minimum interval as the API", () => {
    expect(
      errorOf("deployments:\n  - name: a\n    entrypoint: f.ts:a\n    schedule: { interval: 0.001 }\n"),
    ).toContain(
      "weir.yaml:4:15: deployments[0].schedule: interval 0.001 is shorter than the shortest allowed, 1 s (set by WEIR_MIN_INTERVAL_SECONDS)",
    );
    expect(
      errorOf("deployments:\n  - name: a\n    entrypoint: f.ts:a\n    schedule: { rrule: FREQ=SECONDLY }\n"),
    ).toContain("rrules finer than MINUTELY (FREQ=SECONDLY) are not supported");
  });
});
