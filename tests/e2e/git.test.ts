// Pull steps with a real git: a private flow repository served over HTTP by git's own
// http-backend behind token auth, and over file://, cloned by the compiled binary at run time.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Env, HELLO_FLOW } from "./harness.ts";

setDefaultTimeout(90_000);

const TOKEN = "tok-3f9a7c2e51";

function sh(cmd: string[], cwd: string) {
  const r = Bun.spawnSync(cmd, {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@t",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@t",
    },
  });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

/** git http-backend (CGI) behind HTTP Basic auth that wants TOKEN as the password. */
function gitHttpServer(root: string) {
  const backend = join(sh(["git", "--exec-path"], root), "git-http-backend");
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const auth = req.headers.get("authorization") ?? "";
      const password = auth.startsWith("Basic ") ? atob(auth.slice(6)).split(":").slice(1).join(":") : "";
      if (password !== TOKEN)
        return new Response("auth required", {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="git"' },
        });
      const url = new URL(req.url);
      const proc = Bun.spawn([backend], {
        stdin: req.body ? new Uint8Array(await req.arrayBuffer()) : "ignore",
        stdout: "pipe",
        stderr: "ignore",
        env: {
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: "1",
          REQUEST_METHOD: req.method,
          PATH_INFO: url.pathname,
          QUERY_STRING: url.search.slice(1),
          CONTENT_TYPE: req.headers.get("content-type") ?? "",
          HTTP_CONTENT_ENCODING: req.headers.get("content-encoding") ?? "",
          HTTP_GIT_PROTOCOL: req.headers.get("git-protocol") ?? "",
          REMOTE_USER: "git",
        },
      });
      const out = new Uint8Array(await new Response(proc.stdout).arrayBuffer());
      const text = new TextDecoder("latin1").decode(out);
      const split = text.indexOf("\r\n\r\n");
      const head = text.slice(0, split).split("\r\n");
      const headers = new Headers();
      let status = 200;
      for (const h of head) {
        const [k, ...v] = h.split(":");
        if (k!.toLowerCase() === "status") status = Number(v.join(":").trim().split(" ")[0]);
        else headers.set(k!, v.join(":").trim());
      }
      return new Response(out.slice(split + 4), { status, headers });
    },
  });
}

let env: Env;
let server: ReturnType<typeof Bun.serve>;
let bare: string;

beforeAll(async () => {
  env = new Env();
  // the flow repository, pushed to a bare repo that is served
  const work = join(env.root, "flows-src");
  mkdirSync(join(work, "flows"), { recursive: true });
  writeFileSync(
    join(work, "flows", "hello.ts"),
    HELLO_FLOW.replace("hello ${name}", "hello ${name} from git"),
  );
  sh(["git", "init", "-q", "-b", "main"], work);
  sh(["git", "add", "."], work);
  sh(["git", "commit", "-q", "-m", "flow"], work);
  const root = join(env.root, "served");
  mkdirSync(root, { recursive: true });
  sh(["git", "clone", "-q", "--bare", work, join(root, "flows.git")], env.root);
  bare = join(root, "flows.git");
  server = gitHttpServer(root);
  await env.startServer();
  // git as the agent's flow runs find it: a wrapper that records every argument list, so the test
  // can show no token ever reached a command line (which `ps` shows to every user)
  const wrap = join(env.root, "wrap");
  mkdirSync(wrap, { recursive: true });
  writeFileSync(
    join(wrap, "git"),
    `#!/bin/sh\necho "$*" >> ${join(env.root, "git-argv.log")}\nexec /usr/bin/git "$@"\n`,
    {
      mode: 0o755,
    },
  );
  const agent = env.spawn(["agent", "--pool", "local"], { env: { PATH: `${wrap}:/usr/bin:/bin` } });
  await agent.waitFor(/Agent .* started/);
});
afterAll(async () => {
  server?.stop(true);
  await env.dispose();
});

const yaml = (repo: string, creds: string) => `pull:
  - weir.steps.git_clone:
      id: clone
      repository: ${repo}
      branch: main${creds ? `\n      credentials: "${creds}"` : ""}
deployments:
  - name: remote
    entrypoint: flows/hello.ts:hello
    parameters: { name: Git }
    work_pool: { name: local }
`;

describe("git_clone pull step", () => {
  test("a private repo over HTTP with a token from a credentials block: cloned at run time, token never shown", async () => {
    const b = await env.cli([
      "block",
      "create",
      "github-credentials",
      "repo-token",
      "--field",
      `token=${TOKEN}`,
    ]);
    expect(b.code).toBe(0);
    const inspect = await env.cli(["block", "inspect", "github-credentials/repo-token"]);
    expect(inspect.stdout).not.toContain(TOKEN);
    expect(inspect.stdout).toContain("********");
    const dir = env.project("deploy-http", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": yaml(
        `http://127.0.0.1:${server.port}/flows.git`,
        "{{ weir.blocks.github-credentials.repo-token }}",
      ),
    });
    const d = await env.cli(["deploy", "--all"], { cwd: dir });
    expect(d.code).toBe(0);
    const dep = await env.json(["deployment", "inspect", "hello/remote"]);
    // stored unresolved: the block is read on every run, on the machine that runs it
    expect(JSON.stringify(dep.pull_steps)).toContain("{{ weir.blocks.github-credentials.repo-token }}");
    const run = await env.cli(["deployment", "run", "hello/remote", "--watch"]);
    expect(run.stderr + run.stdout).not.toContain(TOKEN);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("hello Git from git");
    const id = run.stdout.match(/\(([0-9a-f-]{36})\)/)![1]!;
    const logs = await env.cli(["flow-run", "logs", id]);
    expect(logs.stdout + logs.stderr).not.toContain(TOKEN);
    const all = JSON.stringify(await env.json(["flow-run", "inspect", id]));
    expect(all).not.toContain(TOKEN);
    // git ran with the token in its environment, never in its arguments
    const argv = readFileSync(join(env.root, "git-argv.log"), "utf8");
    expect(argv).toContain("clone --depth 1 --branch main");
    expect(argv).not.toContain(TOKEN);
    expect(argv).not.toContain(encodeURIComponent(TOKEN));
  });

  test("a wrong token fails the run with git's reason, and still no token anywhere", async () => {
    expect(
      (
        await env.cli([
          "block",
          "create",
          "github-credentials",
          "repo-token",
          "--field",
          "token=wrong-token-123",
          "--overwrite",
        ])
      ).code,
    ).toBe(0);
    const run = await env.cli(["deployment", "run", "hello/remote", "--watch"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("Pull steps failed");
    expect(run.stdout).toMatch(/git (clone|fetch) failed \(exit 128\): .*Authentication failed/);
    expect(run.stdout + run.stderr).not.toContain("wrong-token-123");
  });

  test("a token written into the URL is taken out of it: sent as a header, never shown, a warning says why", async () => {
    const dir = env.project("deploy-url-token", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": yaml(`http://x-access-token:${TOKEN}@127.0.0.1:${server.port}/flows.git`, "").replace(
        "name: remote",
        "name: url-token",
      ),
    });
    expect((await env.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
    const run = await env.cli(["deployment", "run", "hello/url-token", "--watch"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("hello Git from git");
    expect(run.stdout).toContain("the repository URL holds credentials; they were taken out of it");
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
    const id = run.stdout.match(/\(([0-9a-f-]{36})\)/)![1]!;
    expect((await env.cli(["flow-run", "logs", id])).stdout).not.toContain(TOKEN);
    const argv = readFileSync(join(env.root, "git-argv.log"), "utf8");
    expect(argv).not.toContain(TOKEN);
  });

  test("a repo over file:// needs no credentials", async () => {
    const dir = env.project("deploy-file", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": yaml(`file://${bare}`, "").replace("remote", "local-git"),
    });
    expect((await env.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
    const run = await env.cli(["deployment", "run", "hello/local-git", "--watch"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("hello Git from git");
  });
  test("commit_sha checks out that commit; directories checks out only those folders; Prefect's argument rules", async () => {
    const work = join(env.root, "flows-src");
    const first = sh(["git", "rev-parse", "HEAD"], work);
    mkdirSync(join(work, "other"), { recursive: true });
    writeFileSync(join(work, "other", "x.txt"), "x\n");
    writeFileSync(
      join(work, "flows", "hello.ts"),
      HELLO_FLOW.replace("hello ${name}", "hello ${name} from HEAD"),
    );
    sh(["git", "add", "."], work);
    sh(["git", "commit", "-q", "-m", "second"], work);
    sh(["git", "push", "-q", bare, "main"], work);
    const dir = env.project("deploy-pinned", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": `pull:
  - prefect.deployments.steps.git_clone:
      id: clone
      repository: file://${bare}
      commit_sha: ${first}
      clone_directory_name: pinned
  - prefect.deployments.steps.set_working_directory:
      directory: "{{ clone.directory }}"
deployments:
  - name: pinned
    entrypoint: flows/hello.ts:hello
    parameters: { name: Git }
    work_pool: { name: local }
  - name: sparse
    entrypoint: flows/hello.ts:hello
    parameters: { name: Git }
    work_pool: { name: local }
    pull:
      - weir.steps.git_clone: { id: c, repository: "file://${bare}", directories: [flows] }
      - weir.steps.run_shell_script: { script: "ls {{ c.directory }}" }
      - weir.steps.set_working_directory: { directory: "{{ c.directory }}" }
`,
    });
    expect((await env.cli(["deploy", "--all"], { cwd: dir })).code).toBe(0);
    const pinned = await env.cli(["deployment", "run", "hello/pinned", "--watch"]);
    expect(pinned.code).toBe(0);
    expect(pinned.stdout).toContain("hello Git from git");
    expect(pinned.stdout).toContain(`(commit ${first}) into `);
    const sparse = await env.cli(["deployment", "run", "hello/sparse", "--watch"]);
    expect(sparse.code).toBe(0);
    expect(sparse.stdout).toContain("hello Git from HEAD");
    expect(sparse.stdout).not.toMatch(/INFO\s+other$/m);
    const both = env.project("deploy-both", {
      "flows/hello.ts": HELLO_FLOW,
      "weir.yaml": yaml(`file://${bare}`, "")
        .replace("branch: main", `branch: main\n      commit_sha: ${first}`)
        .replace("remote", "both"),
    });
    const r = await env.cli(["deploy", "--all"], { cwd: both });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("give either branch or commit_sha, not both");
  });
});
