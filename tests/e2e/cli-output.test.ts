// What the CLI prints, through the compiled binary: every byte reaches a slow pipe before the
// process exits, and a command's own --version is never taken for Weir's.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Env, HELLO_FLOW, HELLO_YAML } from "./harness.ts";

setDefaultTimeout(120_000);

const CHATTY = `import { flow } from "weir";
export const chatty = flow({ name: "chatty" }, async (_p, { log }) => {
  const pad = "x".repeat(240);
  for (let i = 0; i < 20000; i++) log.info(\`line \${i} \${pad}\`);
});
`;

let env: Env;
let project: string;

beforeAll(async () => {
  env = new Env();
  project = env.project("out", {
    "flows/hello.ts": HELLO_FLOW,
    "flows/chatty.ts": CHATTY,
    "weir.yaml": `${HELLO_YAML}  - name: chatty
    entrypoint: flows/chatty.ts:chatty
    work_pool: { name: local }
`,
  });
  await env.startServer();
  await env.startAgent("local");
});
afterAll(() => env.dispose());

/** Runs `weir ARGS | READER` in a shell and returns what the reader printed. */
async function piped(args: string[], reader: string): Promise<{ code: number; out: string; err: string }> {
  const quoted = [env.bin, ...args].map((a) => `'${a}'`).join(" ");
  const proc = Bun.spawn(["sh", "-c", `${quoted} | ${reader}`], {
    cwd: project,
    env: env.env(),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, out, err };
}

describe("output reaches a pipe whole", () => {
  test("flow-run ls --limit 100 --json through a slow reader is complete JSON", async () => {
    expect((await env.cli(["deploy", "--all"], { cwd: project })).code).toBe(0);
    const d = await env.json(["deployment", "inspect", "hello/daily"]);
    // 100 runs far in the future: nothing executes them, they only make the listing long
    const later = new Date(Date.now() + 86_400_000).toISOString();
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${env.apiUrl}/deployments/${d.id}/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ state: { type: "SCHEDULED", scheduled_time: later } }),
      });
      expect(res.status).toBe(201);
    }
    const r = await piped(["flow-run", "ls", "--limit", "100", "--json"], "(sleep 1; cat)");
    expect(r.out.length).toBeGreaterThan(65_536);
    const runs = JSON.parse(r.out);
    expect(runs.length).toBe(100);
  });

  test("5 MB of flow-run logs --json through a slow reader: every byte, valid JSON", async () => {
    const created = await env.json(["deployment", "run", "chatty/chatty"]);
    const run = await env.waitForRun(created.id, (x) => x.state.type === "COMPLETED", 90_000);
    const r = await piped(["flow-run", "logs", run.id, "--json"], "(sleep 1; cat)");
    expect(r.out.length).toBeGreaterThan(5_000_000);
    const lines = JSON.parse(r.out);
    expect(lines.length).toBe(20000);
    expect(lines[19999].message).toStartWith("line 19999 ");
    // and the byte count a counting reader sees is the same
    const counted = await piped(["flow-run", "logs", run.id, "--json"], "(sleep 1; wc -c)");
    expect(Number(counted.out.trim())).toBe(Buffer.byteLength(r.out));
  });

  test("a reader that stops early does not turn into an error", async () => {
    const r = await piped(["flow-run", "ls", "--limit", "100", "--json"], "head -c 10");
    expect(r.out).toBe("[\n  {\n    ");
    expect(r.err).not.toContain("unexpected error");
  });
});

describe("a command's --version is its own", () => {
  test("weir --version and weir -V print Weir's version", async () => {
    for (const flag of ["--version", "-V"]) {
      const r = await env.cli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  test("weir deploy -n daily --version v9 deploys version v9", async () => {
    const r = await env.cli(["deploy", "-n", "daily", "--version", "v9"], { cwd: project });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hello/daily updated");
    expect((await env.json(["deployment", "inspect", "hello/daily"])).version).toBe("v9");
    const short = await env.cli(["deploy", "-n", "daily", "-v", "v10"], { cwd: project });
    expect(short.code).toBe(0);
    expect((await env.json(["deployment", "inspect", "hello/daily"])).version).toBe("v10");
  });

  test("weir deployment build FILE:FLOW --version 1 writes version 1", async () => {
    const r = await env.cli(["deployment", "build", "flows/hello.ts:hello", "-n", "b", "--version", "1"], {
      cwd: project,
    });
    expect(r.code).toBe(0);
    expect(readFileSync(join(project, "hello-deployment.yaml"), "utf8")).toContain('version: "1"');
  });
});
