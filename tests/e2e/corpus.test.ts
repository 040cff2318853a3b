// The 40 real prefect.yaml / deployment.yaml files of the workspace's corpus, through
// `weir deploy --all --dry-run`: a broken file gets its problems at file:line:column and no plan;
// every other file gets a plan for each deployment, Weir's own limits (Python entrypoints, steps of
// plugins this build lacks) named per deployment, and what Weir ignores as warnings.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { Env, errorLine } from "./harness.ts";

setDefaultTimeout(60_000);

// The corpus lives in the workspace beside the repository, not in the repository: a fresh clone
// has no ../shared, and then this check is skipped with one line saying so.
const dir = join(import.meta.dir, "../../../shared/corpus/prefect-yaml");
const present = existsSync(dir);
if (!present)
  console.log(
    `corpus check skipped: ${dir} does not exist (the real-world prefect.yaml corpus is not part of a clone)`,
  );
const files = present ? readdirSync(dir).filter((f) => f.endsWith(".yaml")) : [];

/** Files Prefect itself would refuse or misread (see the corpus INDEX), and what Weir says. */
const BROKEN: Record<string, string> = {
  "2024mt03579__airlines-prefect-workflow__prefect.yaml":
    "has its arguments (repository, branch) beside its name",
  "CBIIT__EntryRemoval-Prefect__prefect.yaml":
    'no such step "prefect.deployments.steps.pip_install_requiements"',
  "mediacloud__sous-chef__prefect.yaml": 'no such step "prefect.deployments.steps.get_clone"',
  "SteffRhes__prefect_experiments__exp_1_prefect_server_dockerized_exp_3_yaml_prefect.yaml":
    "has its arguments (id, script, stream_output) beside its name",
  "Cam0505__CamOnPrefect__prefect.yaml": 'unknown top-level field "=name" (did you mean "name"?)',
  "tomdncenter__automate__prefect.yaml":
    'deployments[0].schedule: must be a mapping such as { cron: "0 9 * * *" }',
  "AbderrahimAl__Bucket2Elasticsearch__prefect.yaml": "deployments[0].tags: must be a list of strings",
  "AloisCRR__repossessed-assets__prefect.yaml": "deployments[0].tags[0]: each tag must be a string",
  "m-tok__prefect-deploy__multi-deploy_prefect.yaml": "no deployments are defined",
  // docker-py's build() has no `context` argument: Prefect fails with a TypeError at deploy.
  "Brennan-Chesley-FLP__en_banc__prefect.yaml":
    'unknown argument "context"; build_docker_image takes: image_name',
};
/** A Prefect 2 `deployment build` output: not a project file; deploy points to apply. */
const LEGACY = "cityofaustin__atd-prefect__deployments_knack_banner.yaml";

/** Deployments a file defines, less those a later entry of the same name and entrypoint replaces. */
function deploymentCount(file: string): number {
  const data = parse(readFileSync(join(dir, file), "utf8"), { merge: true, uniqueKeys: false }) as {
    deployments?: { name: string; entrypoint?: string }[];
  };
  return new Set((data.deployments ?? []).map((d) => `${d.entrypoint}\0${d.name}`)).size;
}

let env: Env;
beforeAll(() => {
  env = new Env();
});
afterAll(() => env.dispose());

const dryRun = (f: string) =>
  env.cli(["deploy", "--all", "--dry-run", "--file", join(dir, f)], { cwd: env.root });
const positioned = /\.yaml:\d+:\d+: /;

describe.skipIf(!present)("shared/corpus/prefect-yaml with deploy --all --dry-run", () => {
  test("has the 40 files, 10 of them broken and 1 a Prefect 2 deployment file", () => {
    expect(files.length).toBe(40);
    for (const f of [...Object.keys(BROKEN), LEGACY]) expect(files).toContain(f);
  });

  test.each(files)("%s", async (f) => {
    const r = await dryRun(f);
    const out = r.stdout + r.stderr;
    expect(out).not.toContain("unexpected error");
    expect(errorLine(r).stack).toBe(false);
    for (const line of out.split("\n").filter((l) => /^(✗ |warning: |weir: )/.test(l)))
      expect(line).toMatch(positioned);
    if (f === LEGACY) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("this is a Prefect 2.x deployment file");
      expect(r.stderr).toContain("weir deployment apply");
      return;
    }
    const broken = BROKEN[f];
    if (broken) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^weir: [^\n]*\.yaml:\d+:\d+: /);
      expect(r.stderr).toContain(broken);
      expect(r.stdout).not.toContain("(dry run");
      return;
    }
    // a plan for every deployment; what keeps one from deploying is named under it
    expect((r.stdout.match(/\(dry run, nothing changed/g) ?? []).length).toBe(deploymentCount(f));
    const problems = r.stdout.split("\n").filter((l) => l.startsWith("✗ "));
    expect(r.code).toBe(problems.length > 0 ? 1 : 0);
    if (/\.py:/.test(out)) expect(out).toContain("is not a TypeScript flow");
  });
});
