// npm test (after the build): every suite on the embedded database, then the API and end-to-end
// suites again on PostgreSQL when its server binaries are installed (.ci/run installs them), and
// last the combined counts in bun's own format, which .ci/run reads.
import { postgresMissing } from "../tests/e2e/postgres.ts";

const counts = { pass: 0, fail: 0, skip: 0 };

async function run(label: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  console.log(`\n== ${label}`);
  const p = Bun.spawn(["bun", "test", ...args], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const seen = { pass: 0, fail: 0, skip: 0 };
  const pump = async (from: ReadableStream<Uint8Array>, to: NodeJS.WriteStream) => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of from) {
      const text = decoder.decode(chunk, { stream: true });
      to.write(text);
      rest += text;
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^\s*(\d+) (pass|fail|skip)$/.exec(line);
        if (m) seen[m[2] as keyof typeof seen] = Number(m[1]);
      }
    }
  };
  await Promise.all([pump(p.stdout, process.stdout), pump(p.stderr, process.stderr)]);
  const code = await p.exited;
  for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] += seen[k];
  if (code !== 0 && seen.fail === 0) counts.fail++;
  return code;
}

const extra = process.argv.slice(2);
let failed = (await run("all suites, embedded database", extra)) !== 0;
const missing = postgresMissing();
if (extra.length > 0) {
  // A chosen file or filter runs once, on the embedded database.
} else if (missing) {
  console.log(`\nPostgreSQL suites skipped: ${missing}`);
} else {
  failed =
    (await run(
      "API and end-to-end suites on PostgreSQL",
      ["--preload", "./tests/postgres-backend.ts", "tests/api", "tests/e2e"],
      {
        WEIR_TEST_BACKEND: "postgres",
      },
    )) !== 0 || failed;
}
console.log(`\nBoth databases together:\n ${counts.pass} pass\n ${counts.fail} fail\n ${counts.skip} skip`);
process.exit(failed ? 1 : 0);
