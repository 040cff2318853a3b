// What a server reads at its start (the database's address, the admin token, the secret keys)
// never reaches flow code: not through an agent started in the server's shell, in a process of
// its own or inside the agent, nor through the agent inside `weir server --agent`.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { Env } from "./harness.ts";

setDefaultTimeout(90_000);

const FLOW = `import { flow } from "weir";
const NAMES = ["WEIR_DATABASE_URL", "WEIR_DATABASE_AUTH_TOKEN", "WEIR_ADMIN_TOKEN", "WEIR_SECRET_KEY", "WEIR_NEW_SECRET_KEY"];
export const peek = flow({ name: "peek" }, async (_p, { log }) => {
  const seen = NAMES.filter((n) => process.env[n] !== undefined);
  log.info(\`server secrets seen: [\${seen.join(",")}] other=\${process.env.OTHER_SETTING}\`);
});
`;

// The shell of an operator who followed the PostgreSQL section: all of it exported.
const SHELL = {
  WEIR_DATABASE_AUTH_TOKEN: "db-auth-token-value",
  WEIR_ADMIN_TOKEN: `weir_${"a".repeat(40)}`,
  WEIR_SECRET_KEY: Buffer.alloc(32, 7).toString("base64"),
  WEIR_NEW_SECRET_KEY: Buffer.alloc(32, 9).toString("base64"),
  OTHER_SETTING: "kept",
};

let env: Env;
let project: string;
beforeAll(async () => {
  env = new Env();
  project = env.project("peek", {
    "flows/f.ts": FLOW,
    "weir.yaml": `deployments:
  - { name: proc, entrypoint: flows/f.ts:peek, work_pool: { name: shell } }
  - { name: inside, entrypoint: flows/f.ts:peek, work_pool: { name: inside } }
  - { name: served, entrypoint: flows/f.ts:peek, work_pool: { name: served } }
`,
  });
  // The server's own agent, in the same process as what the server read.
  // (On PostgreSQL the harness gives every process WEIR_DATABASE_URL; on SQLite it is named here.)
  const database: Record<string, string> =
    process.env.WEIR_TEST_BACKEND === "postgres" ? {} : { WEIR_DATABASE_URL: join(env.home, "weir.db") };
  await env.startServer(["--agent", "served"], { ...SHELL, ...database });
  for (const pool of ["shell", "inside"]) expect((await env.cli(["work-pool", "create", pool])).code).toBe(0);
  expect((await env.cli(["deploy", "--all"], { cwd: project })).code).toBe(0);
});
afterAll(() => env.dispose());

async function seen(deployment: string): Promise<string> {
  const r = await env.cli(["deployment", "run", deployment, "--watch"]);
  expect(r.code).toBe(0);
  const line = /server secrets seen: \[[^\]]*\] other=\S*/.exec(r.stdout)?.[0];
  expect(line).toBeDefined();
  return line!;
}

describe("server secrets and flows", () => {
  test("an agent started from a shell that exports them: a flow in a process of its own sees none", async () => {
    const agent = env.spawn(["agent", "--pool", "shell"], {
      env: { ...SHELL, WEIR_DATABASE_URL: "postgres://u:pw@db/x" },
    });
    await agent.waitFor(/Agent .* started/);
    expect(await seen("peek/proc")).toBe("server secrets seen: [] other=kept");
  });

  test("with --isolation none the flow runs in the agent, which has let them go", async () => {
    const agent = env.spawn(["agent", "--pool", "inside", "--isolation", "none"], {
      env: { ...SHELL, WEIR_DATABASE_URL: "postgres://u:pw@db/x" },
    });
    await agent.waitFor(/Agent .* started/);
    expect(await seen("peek/inside")).toBe("server secrets seen: [] other=kept");
  });

  test("the agent inside weir server", async () => {
    expect(await seen("peek/served")).toBe("server secrets seen: [] other=kept");
  });
});

describe("weir server --agent --allow-dir", () => {
  test("the folders given are the ones its runs may work in", async () => {
    const other = new Env();
    try {
      const dir = other.project("elsewhere", {
        "flows/f.ts": FLOW,
        "weir.yaml":
          "deployments:\n  - { name: here, entrypoint: flows/f.ts:peek, work_pool: { name: served } }\n",
      });
      // Only a folder that is not the project's: its run is refused there, naming the option.
      mkdirSync(join(other.root, "nowhere"), { recursive: true });
      await other.startServer(["--agent", "served", "--allow-dir", join(other.root, "nowhere")]);
      expect((await other.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
      const r = await other.cli(["deployment", "run", "peek/here", "--watch"]);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain(
        `start the agent (or weir server --agent) with --allow-dir ${dir}`,
      );
    } finally {
      other.dispose();
    }
  });
});

describe("a server whose key cannot open the database's secrets", () => {
  test("refuses to start, naming the block and the fix, and keeps no key it made for it", async () => {
    const other = new Env();
    try {
      const first = await other.startServer();
      expect(
        (await other.cli(["block", "create", "secret", "db-pass", "--field", "value=xyz-123"])).code,
      ).toBe(0);
      await first.stop("SIGINT");
      const file = join(other.home, "secret-key");
      renameSync(file, `${file}.away`);
      // No key: the server would make a new one, which cannot open what is there.
      const none = await other.cli(["server", "--port", "0"]);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain(
        "This database holds secrets this server cannot open (block secret/db-pass:",
      );
      expect(none.stderr).toContain("the same WEIR_SECRET_KEY, or a copy of their $WEIR_HOME/secret-key");
      expect(existsSync(file)).toBe(false);
      // Another key.
      const wrong = await other.cli(["server", "--port", "0"], {
        env: { WEIR_SECRET_KEY: Buffer.alloc(32, 3).toString("base64") },
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain("This database holds secrets this server cannot open");
      // The right key: it starts.
      renameSync(`${file}.away`, file);
      await other.startServer();
    } finally {
      other.dispose();
    }
  });
});

describe("a key given as WEIR_SECRET_KEY", () => {
  test("rotated as the command says, the server starts with the new key and opens every secret", async () => {
    const other = new Env();
    try {
      const k1 = Buffer.alloc(32, 1).toString("base64");
      const k2 = Buffer.alloc(32, 2).toString("base64");
      const first = await other.startServer([], { WEIR_SECRET_KEY: k1 });
      expect(
        (await other.cli(["block", "create", "secret", "rotated", "--field", "value=abc-789"])).code,
      ).toBe(0);
      await first.stop("SIGINT");
      const rotate = await other.cli(["secret-key", "rotate"], {
        env: { WEIR_SECRET_KEY: k1, WEIR_NEW_SECRET_KEY: k2 },
      });
      expect(rotate.code).toBe(0);
      expect(rotate.stdout).toContain(
        "now start the servers with WEIR_SECRET_KEY set to WEIR_NEW_SECRET_KEY's value",
      );
      await other.startServer([], { WEIR_SECRET_KEY: k2 });
      const shown = await other.cli(["block", "inspect", "secret/rotated", "--show-secrets"]);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toContain("abc-789");
    } finally {
      other.dispose();
    }
  });
});
