// Code shipped through Azure Blob Storage, end to end with the compiled binary and Azurite (the
// real emulator): deploy uploads (ignore file applied, unchanged blobs skipped), a run pulls into
// a folder of its own; failures name the container and endpoint, never the key.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Azurite } from "./azurite.ts";
import { Env } from "./harness.ts";

setDefaultTimeout(90_000);

const READER = `import { readFileSync } from "node:fs";
import { flow } from "weir";
export const reader = flow({ name: "reader" }, async (_p, { log }) => {
  log.info(\`read: \${readFileSync("data/input.txt", "utf8").trim()}\`);
});
`;
const yaml = (container: string) => `push:
  - prefect_azure.deployments.steps.push_to_azure_blob_storage:
      id: push
      requires: prefect-azure>=0.2
      container: ${container}
      folder: reader
      credentials: "{{ prefect.blocks.azure-blob-storage-credentials.dev }}"
pull:
  - prefect_azure.deployments.steps.pull_from_azure_blob_storage:
      container: ${container}
      folder: "{{ push.folder }}"
      credentials: "{{ prefect.blocks.azure-blob-storage-credentials.dev }}"
deployments:
  - name: blob
    entrypoint: flows/reader.ts:reader
    work_pool: { name: local }
`;

let env: Env;
let az: Azurite;
let project: string;

beforeAll(async () => {
  az = new Azurite();
  await az.start(["flows"]);
  env = new Env();
  await env.startServer();
  await env.startAgent("local");
  project = env.project("azproj", {
    "flows/reader.ts": READER,
    "data/input.txt": "numbers from the container\n",
    "data/sp ace ü+b%.txt": "a name to percent-encode\n",
    ".weirignore": "secret.txt\n",
    "secret.txt": "not for upload\n",
    "weir.yaml": yaml("flows"),
  });
  const block = await env.cli([
    "block",
    "create",
    "azure-blob-storage-credentials",
    "dev",
    "--field",
    `connection_string=${az.connectionString}`,
  ]);
  expect(block.code).toBe(0);
});
afterAll(async () => {
  await env.dispose();
  await az.dispose();
});

describe("push_to_azure_blob_storage / pull_from_azure_blob_storage", () => {
  test("deploy uploads the project less the ignored files; a redeploy uploads nothing", async () => {
    const r = await env.cli(["deploy", "--all"], { cwd: project });
    expect(r.stdout + r.stderr).toContain("Uploaded 5 file(s)");
    expect(r.code).toBe(0);
    expect(await az.names("flows", "reader/")).toEqual([
      "reader/.weirignore",
      "reader/data/input.txt",
      "reader/data/sp ace ü+b%.txt",
      "reader/flows/reader.ts",
      "reader/weir.yaml",
    ]);
    const again = await env.cli(["deploy", "--all"], { cwd: project });
    expect(again.stdout).toContain(
      "Uploaded 0 file(s), 0 B, to container flows/reader; 5 already there unchanged",
    );
  });

  test("a run pulls the code and the flow reads the data file it brought", async () => {
    const r = await env.cli(["deployment", "run", "reader/blob", "--watch"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Downloaded 5 file(s)");
    expect(r.stdout).toContain("read: numbers from the container");
  });

  test("a missing container and a wrong key are named, and the key never shows", async () => {
    const missing = await env.cli(["deploy", "--all"], {
      cwd: env.project("az-missing", { "flows/reader.ts": READER, "weir.yaml": yaml("nope") }),
    });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(
      `container "nope" at http://127.0.0.1:${az.port}/devstoreaccount1 failed: container "nope" does not exist there`,
    );
    const wrong = az.connectionString.replace(
      /AccountKey=[^;]+/,
      `AccountKey=${Buffer.from("wrong-key-4711").toString("base64")}`,
    );
    await env.cli([
      "block",
      "create",
      "azure-blob-storage-credentials",
      "dev",
      "--overwrite",
      "--field",
      `connection_string=${wrong}`,
    ]);
    try {
      const r = await env.cli(["deploy", "--all"], { cwd: project });
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(
        "failed: the credentials were refused (check the account key or SAS token in the credentials block)",
      );
      expect(r.stdout + r.stderr).not.toContain(Buffer.from("wrong-key-4711").toString("base64"));
    } finally {
      await env.cli([
        "block",
        "create",
        "azure-blob-storage-credentials",
        "dev",
        "--overwrite",
        "--field",
        `connection_string=${az.connectionString}`,
      ]);
    }
  });
});
