// `weir types` from the compiled binary: the declarations of "weir" it writes are the ones generated
// from core/sdk at build time (not stale, not a hand copy), and they type-check flows for real: a
// correct flow passes, misuses of the API fail, and the public surface needs nothing (no Bun or Node
// types, no packages) that a flow project lacks.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { sdkDeclarations } from "../../scripts/sdk-types.ts";
import { Env, HELLO_FLOW } from "./harness.ts";

setDefaultTimeout(60_000);

const ROOT = join(import.meta.dir, "../..");
const TSC = join(ROOT, "node_modules/.bin/tsc");

// Uses every export a flow is documented to use, so a declaration gone wrong shows here.
const USES_FLOW = `import {
  type DeploymentRun,
  type Flow,
  type Logger,
  SubflowFailed,
  deploy,
  flow,
  flowRunId,
  isFlow,
  log,
  runDeployment,
  serve,
  task,
} from "weir";
import { hello } from "./hello.ts";

const double = task({ name: "double", retries: 1 }, (n: number) => n * 2);
export const parent = flow(
  { name: "parent", retries: 2, timeoutSeconds: 60 },
  async (_params, { log: runLog, signal, flowRunId: id }) => {
    signal.throwIfAborted();
    const greeted: { ok: boolean } = await hello({ name: "child" });
    const four: number = await double(2);
    runLog.info(id, greeted.ok, four);
    return four;
  },
);
const logger: Logger = log;
logger.warning(flowRunId() ?? "no run");
const anyFlow: Flow = hello;
export const checks: boolean[] = [isFlow(anyFlow), hello.options.name === "hello"];
export async function ci(): Promise<void> {
  const [d] = await deploy({ flow: hello, name: "nightly", workPool: "local", schedules: [{ cron: "0 9 * * *" }], concurrencyLimit: { limit: 1, collisionStrategy: "CANCEL_NEW" } });
  const again = await hello.deploy({ name: "again", parameters: { name: "x" } });
  const run: DeploymentRun = await runDeployment(d?.flow_name + "/" + again.name, { parameters: { name: "y" }, timeout: 0, idempotencyKey: "k", scheduledTime: new Date() });
  const state: string = run.state.type;
  const value: number = await run.result<number>();
  const direct: unknown = await runDeployment("hello/nightly").result();
  log.info(state, value, direct, new SubflowFailed("m", "id", { type: "FAILED" }).flowRunId);
  await serve({ flow: hello, name: "served" }, { limit: 2, onStop: "cancel" });
  await hello.serve({ name: "served", limit: 1 });
}
`;

// Each line after the import misuses the API and must be an error (checked by line number).
const MISUSES = `import { deploy, flow, log, runDeployment, serve, task } from "weir";
import { hello } from "./hello.ts";
export const badName = flow({ name: 42 }, async () => 1);
export const badParams = hello({ name: 1 });
export const badTaskArg = task({ name: "t" }, (s: string) => s.length)(5);
log.nope("no such level");
export const badOption = flow({ name: "x", retries: "3" }, async () => 1);
export const badTimeout = runDeployment("a/b", { timeout: "5" });
export const badDeploy = deploy({ flow: hello, nam: "x" });
export const badStop = serve({ flow: hello, name: "s" }, { onStop: "later" });
`;

let env: Env;
let project: string;
let fromSource: Promise<Record<string, string>>;

function tsc(...args: string[]): { code: number; output: string } {
  const r = Bun.spawnSync([TSC, "--pretty", "false", ...args], { cwd: project });
  return { code: r.exitCode, output: r.stdout.toString() + r.stderr.toString() };
}

function readTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const p of readdirSync(dir, { recursive: true, encoding: "utf8" }).sort()) {
    if (p.endsWith(".d.ts")) files[p.split(sep).join("/")] = readFileSync(join(dir, p), "utf8");
  }
  return files;
}

beforeAll(async () => {
  fromSource = sdkDeclarations();
  fromSource.catch(() => {}); // reported by the tests that await it
  env = new Env();
  project = env.project("typed", { "flows/hello.ts": HELLO_FLOW, "flows/uses.ts": USES_FLOW });
  const r = await env.cli(["types"], { cwd: project });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Wrote tsconfig.json mapping them");
});
afterAll(() => env.dispose());

describe("weir types", () => {
  test("writes the SDK's declarations as generated from core/sdk now (a stale binary fails here)", async () => {
    const written = readTree(join(project, ".weir/types/weir"));
    expect(written["index.d.ts"]).toBe('export * from "./sdk/index.ts";\n');
    delete written["index.d.ts"];
    expect(Object.keys(written)).toContain("sdk/index.d.ts");
    // If this fails after a change to core/sdk, rebuild dist/weir (bun scripts/build.ts).
    expect(written).toEqual(await fromSource);
  });

  test("running from source generates them on the spot", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "weir-types-src-"));
    try {
      const r = Bun.spawnSync([process.execPath, join(ROOT, "main.ts"), "types", "--out", "out"], { cwd });
      expect(r.stderr.toString()).toBe("");
      expect(r.exitCode).toBe(0);
      const written = readTree(join(cwd, "out"));
      expect(written["weir/index.d.ts"]).toBe('export * from "./sdk/index.ts";\n');
      expect(written["valibot/index.d.ts"]).toBe(
        readFileSync(join(project, ".weir/types/valibot/index.d.ts"), "utf8"),
      );
      const weir = readTree(join(cwd, "out/weir"));
      delete weir["index.d.ts"];
      expect(weir).toEqual(await fromSource);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  test("a correct flow type-checks with the tsconfig it writes", () => {
    expect(tsc("-p", ".")).toEqual({ code: 0, output: "" });
  });

  test("the public surface type-checks without skipLibCheck and without Bun or Node types", () => {
    // Only the declarations the flows reach are checked: what "weir" exports, and what that uses.
    // A failure names a declaration that imports a package flow projects lack (drizzle-orm, hono,
    // ...) or uses Bun or Node globals: keep such imports out of the modules core/sdk's exported
    // types come from (a flow project's own tsconfig need not skip lib checks).
    writeFileSync(
      join(project, "tsconfig.strict.json"),
      JSON.stringify({
        extends: "./tsconfig.json",
        compilerOptions: { skipLibCheck: false, skipDefaultLibCheck: true, types: [] },
        files: ["flows/hello.ts", "flows/uses.ts"],
      }),
    );
    expect(tsc("-p", "tsconfig.strict.json")).toEqual({ code: 0, output: "" });
  });

  test("misusing the API fails type-checking, on every misuse", () => {
    writeFileSync(join(project, "flows/misuses.ts"), MISUSES);
    try {
      const r = tsc("-p", ".");
      expect(r.code).not.toBe(0);
      const lines = r.output.split("\n").filter((l) => /error TS\d+/.test(l));
      for (const l of lines) expect(l).toStartWith("flows/misuses.ts(");
      const failing = new Set(lines.map((l) => Number(/^flows\/misuses\.ts\((\d+),/.exec(l)?.[1])));
      expect([...failing].sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
      expect(r.output).toContain("flows/misuses.ts(3,31): error TS2322: Type 'number' is not assignable");
    } finally {
      rmSync(join(project, "flows/misuses.ts"));
    }
  });
});
