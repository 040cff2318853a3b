// Code shipped through object storage, end to end with the compiled binary and a real S3 server:
// `weir init --recipe s3`, deploy uploads the project (ignore file applied, unchanged objects
// skipped), an agent whose folder holds no project runs the flow from what it pulls; and the ways
// it fails name the bucket, the endpoint and the block, never a secret.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Env } from "./harness.ts";
import { S3Server } from "./s3-server.ts";

setDefaultTimeout(90_000);

const READER = `import { readFileSync } from "node:fs";
import { flow } from "weir";
export const reader = flow({ name: "reader" }, async (_p, { log }) => {
  log.info(\`read: \${readFileSync("data/input.txt", "utf8").trim()}\`);
});
`;

let env: Env;
let s3: S3Server;
let project: string;

beforeAll(async () => {
  s3 = new S3Server();
  await s3.start(["flows"]);
  env = new Env();
  await env.startServer();
  await env.startAgent("local");
  project = env.project("s3proj", {
    "flows/reader.ts": READER,
    "data/input.txt": "numbers from the bucket\n",
    "secret.txt": "not for upload\n",
    "node_modules/junk/index.js": "x",
  });
  const init = await env.cli(
    ["init", "--recipe", "s3", "--field", "bucket=flows", "--field", "folder=reader"],
    {
      cwd: project,
    },
  );
  expect(init.code).toBe(0);
  writeFileSync(
    join(project, ".weirignore"),
    `${readFileSync(join(project, ".weirignore"), "utf8")}secret.txt\n`,
  );
  const file = join(project, "weir.yaml");
  writeFileSync(
    file,
    readFileSync(file, "utf8").replace("entrypoint: null", "entrypoint: flows/reader.ts:reader"),
  );
  const block = await env.cli([
    "block",
    "create",
    "aws-credentials",
    "default",
    "--json",
    JSON.stringify(s3.block),
  ]);
  expect(block.code).toBe(0);
});
afterAll(async () => {
  await env.dispose();
  await s3.dispose();
});

describe("push_to_s3 / pull_from_s3", () => {
  test("deploy --dry-run says what would be uploaded, and uploads nothing", async () => {
    const r = await env.cli(["deploy", "--all", "--dry-run"], { cwd: project });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /push step weir\.steps\.push_to_s3: would upload 4 file\(s\), [\d.]+ \w+, from .* to s3:\/\/flows\/reader \(leaving out what \.weirignore lists/,
    );
    expect(await s3.keys("reader/")).toEqual([]);
  });

  test("deploy uploads the project, leaving out what .weirignore lists", async () => {
    const r = await env.cli(["deploy", "--all"], { cwd: project });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Uploaded 4 file(s)");
    expect(await s3.keys("reader/")).toEqual([
      "reader/.weirignore",
      "reader/data/input.txt",
      "reader/flows/reader.ts",
      "reader/weir.yaml",
    ]);
  });

  test("a redeploy of an unchanged project uploads nothing; a changed file goes up alone", async () => {
    const again = await env.cli(["deploy", "--all"], { cwd: project });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      "Uploaded 0 file(s), 0 B, to s3://flows/reader; 4 already there unchanged",
    );
    writeFileSync(join(project, "data/input.txt"), "numbers from the bucket, changed\n");
    const changed = await env.cli(["deploy", "--all"], { cwd: project });
    expect(changed.stdout).toContain("Uploaded 1 file(s)");
    expect(changed.stdout).toContain("3 already there unchanged");
  });

  test("a run pulls the code into a folder of its own and the flow reads the data file it brought", async () => {
    const r = await env.cli(["deployment", "run", "reader/default", "--watch"], { cwd: env.root });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Downloaded 4 file(s)");
    expect(r.stdout).toContain("read: numbers from the bucket, changed");
    expect(r.stdout).toContain("→ Completed");
  });

  test("wrong credentials: one line naming the bucket, endpoint and block, no secret; the deployment is unchanged", async () => {
    const before = await env.json(["deployment", "inspect", "reader/default"]);
    const bad = {
      ...s3.block,
      aws_access_key_id: "NOT-A-KEY",
      aws_secret_access_key: "wrong-secret-value-123",
    };
    await env.cli([
      "block",
      "create",
      "aws-credentials",
      "default",
      "--overwrite",
      "--json",
      JSON.stringify(bad),
    ]);
    try {
      writeFileSync(join(project, "data/input.txt"), "a change that must not land\n");
      const r = await env.cli(["deploy", "--all"], { cwd: project });
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(
        `bucket "flows" at ${s3.endpoint} failed: the access key id is not known there (check the credentials block)`,
      );
      expect(r.stdout).toContain("{{ weir.blocks.aws-credentials.default }}");
      expect(r.stdout + r.stderr).not.toContain("wrong-secret-value-123");
      const after = await env.json(["deployment", "inspect", "reader/default"]);
      expect(after.updated).toBe(before.updated);
    } finally {
      await env.cli([
        "block",
        "create",
        "aws-credentials",
        "default",
        "--overwrite",
        "--json",
        JSON.stringify(s3.block),
      ]);
    }
  });

  test("a missing bucket, a missing block and a stopped server are each named", async () => {
    const variant = (replace: [string, string]) => {
      const dir = env.project(`variant-${replace[1].replace(/\W/g, "")}`, {
        "flows/reader.ts": READER,
        "data/input.txt": "x\n",
        "weir.yaml": readFileSync(join(project, "weir.yaml"), "utf8").replaceAll(replace[0], replace[1]),
      });
      return env.cli(["deploy", "--all"], { cwd: dir });
    };
    const noBucket = await variant(["bucket: flows", "bucket: no-such-bucket"]);
    expect(noBucket.code).toBe(1);
    expect(noBucket.stdout).toContain(
      `bucket "no-such-bucket" at ${s3.endpoint} failed: bucket "no-such-bucket" does not exist there`,
    );
    const noBlock = await variant(["aws-credentials.default", "aws-credentials.nope"]);
    expect(noBlock.code).toBe(1);
    expect(noBlock.stdout).toMatch(/aws-credentials\/nope|aws-credentials\.nope/);
    await s3.stop();
    try {
      const down = await variant(["folder: reader", "folder: reader-down"]);
      expect(down.code).toBe(1);
      expect(down.stdout).toContain(`at ${s3.endpoint} failed: the endpoint refused the connection`);
    } finally {
      await s3.start(["flows"]);
    }
  });
});

describe("Prefect 2: deployment build -sb s3/NAME/path", () => {
  test("build uploads to the block's bucket path, apply registers a run that pulls from there", async () => {
    const block = {
      bucket_path: "flows/legacy",
      aws_access_key_id: "S3RVER",
      aws_secret_access_key: "S3RVER",
      endpoint_url: s3.endpoint,
    };
    expect((await env.cli(["block", "create", "s3", "code", "--json", JSON.stringify(block)])).code).toBe(0);
    const dir = env.project("legacy-s3", {
      "flows/reader.ts": READER,
      "data/input.txt": "from a storage block\n",
    });
    const b = await env.cli(
      ["deployment", "build", "flows/reader.ts:reader", "-n", "legacy", "-p", "local", "-sb", "s3/code/v1"],
      { cwd: dir },
    );
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    expect(await s3.keys("legacy/v1/")).toEqual(["legacy/v1/data/input.txt", "legacy/v1/flows/reader.ts"]);
    const file = readFileSync(join(dir, "reader-deployment.yaml"), "utf8");
    expect(file).toContain("_block_type_slug: s3");
    // The secret field is masked, as Prefect writes it: the run reads it from the block.
    expect(file).toContain('aws_secret_access_key: "********"');
    const a = await env.cli(["deployment", "apply", "reader-deployment.yaml"], { cwd: dir });
    expect(a.code).toBe(0);
    expect(a.stdout).toContain("runs pull the code from storage block s3/code");
    const r = await env.cli(["deployment", "run", "reader/legacy", "--watch"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("read: from a storage block");
    // --skip-upload writes the file and uploads nothing
    const skip = await env.cli(
      [
        "deployment",
        "build",
        "flows/reader.ts:reader",
        "-n",
        "legacy2",
        "-sb",
        "s3/code/v2",
        "--skip-upload",
      ],
      { cwd: dir },
    );
    expect(skip.code).toBe(0);
    expect(await s3.keys("legacy/v2/")).toEqual([]);
  });
});
