// The 40 real prefect.yaml / deployment.yaml files in shared/corpus: `weir deploy --all --dry-run`
// must print a plan or name each problem with file:line:column, and never crash.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
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

let env: Env;
beforeAll(() => {
  env = new Env();
});
afterAll(() => env.dispose());

describe.skipIf(!present)("shared/corpus/prefect-yaml with deploy --all --dry-run", () => {
  test("has the 40 files", () => expect(files.length).toBe(40));

  test.each(files)("%s", async (f) => {
    const r = await env.cli(["deploy", "--all", "--dry-run", "--file", join(dir, f)], { cwd: env.root });
    const out = r.stdout + r.stderr;
    expect(out).not.toContain("unexpected error");
    expect(errorLine(r).stack).toBe(false);
    if (r.code === 0) {
      expect(r.stdout).toContain("(dry run, nothing changed)");
      return;
    }
    // every problem names the file, line and column
    const problems = out.split("\n").filter((l) => l.startsWith("✗ ") || l.startsWith("weir: "));
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p).toMatch(/\.yaml:\d+:\d+: /);
    // Python entrypoints are named as such, per deployment
    if (/\.py:/.test(out)) expect(out).toContain("is not a TypeScript flow");
  });
});
