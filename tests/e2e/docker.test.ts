// plugins/docker against the real thing: dockerd and an htpasswd registry started by the tests,
// the compiled binary building the runtime image FROM scratch, deploy building and pushing
// images, and agents running flow runs in containers.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DockerHost, dockerMissing, startDockerHost } from "./docker-host.ts";
import { Env, errorLine, freePort, type Service } from "./harness.ts";

setDefaultTimeout(180_000);

const missing = dockerMissing();
if (missing) console.log(missing);

const SHOW_FLOW = `import { readFileSync } from "node:fs";
import { flow } from "weir";
import { greet } from "greeter";

export const show = flow({ name: "show" }, async (_p: Record<string, never>, { log }) => {
  log.info(\`\${greet("container")} cwd=\${process.cwd()} data=\${readFileSync("data.txt", "utf8").trim()} env=\${process.env.GREETING} host=\${process.env.HOSTNAME ? "set" : "unset"}\`);
});
`;

const SLEEP_FLOW = `import { flow } from "weir";
export const sleepy = flow({ name: "sleepy" }, async (_p: Record<string, never>, { log }) => {
  log.info("sleeping");
  await new Promise((r) => setTimeout(r, 600_000));
});
`;

const ENV_FLOW = `import { flow } from "weir";
export const envflow = flow({ name: "envflow" }, async (_p: Record<string, never>, { log }) => {
  log.info(\`from-block=\${process.env.FROM_BLOCK} x=\${process.env.X} cwd=\${process.cwd()}\`);
});
`;

const HOG_FLOW = `import { flow } from "weir";
export const hog = flow({ name: "hog" }, async (_p: Record<string, never>, { log }) => {
  log.info("allocating");
  const keep: Uint8Array[] = [];
  for (;;) keep.push(new Uint8Array(16 * 1024 * 1024).fill(7));
});
`;

let docker: DockerHost;
let env: Env;
let agent: Service;
let agentEnv: Record<string, string>;

const api = (path: string, init?: RequestInit) =>
  fetch(`http://docker${path}`, { ...init, unix: docker.socket } as RequestInit);

describe.skipIf(missing !== null)("docker: images and docker work pools", () => {
  beforeAll(async () => {
    docker = await startDockerHost();
    env = new Env();
    agentEnv = { DOCKER_HOST: docker.host };
    await env.startServer();
  });
  afterAll(async () => {
    await env?.dispose();
    await docker?.dispose();
  });

  const cli = (args: string[], cwd?: string) => env.cli(args, { cwd, env: agentEnv, timeoutMs: 170_000 });
  const logsOf = async (id: string) => (await env.cli(["flow-run", "logs", id])).stdout;
  /** Waits for a run to end (completed or not). */
  const ended = (id: string) =>
    env.waitForRun(id, (x) => ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"].includes(x.state.type), 90_000);

  test("weir image build makes the runtime image FROM scratch out of the binary", async () => {
    const r = await cli(["image", "build"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Step 1/6 : FROM scratch");
    expect(r.stdout).toMatch(/Built weir-runtime:\d+\.\d+\.\d+ \(\d+ MB\)/);
    const version = /weir-runtime:(\S+) /.exec(r.stdout)![1];
    const info = (await (await api(`/images/weir-runtime:${version}/json`)).json()) as {
      Config: { Labels: Record<string, string> };
      RootFS: { Layers: string[] };
    };
    expect(info.Config.Labels["io.weir.version"]).toBe(version!);
    expect(info.Config.Labels["io.weir.binary-sha256"]).toMatch(/^[0-9a-f]{64}$/);
  });

  test("a docker pool runs a flow from an image deploy built (auto) and pushed with credentials", async () => {
    expect(
      (
        await cli([
          "block",
          "create",
          "docker-registry-credentials",
          "registry",
          "--field",
          `username=${docker.user}`,
          "--field",
          `password=${docker.password}`,
          "--field",
          `registry_url=${docker.registry}`,
        ])
      ).code,
    ).toBe(0);
    const dir = env.project("shipped", {
      "flows/show.ts": SHOW_FLOW,
      "data.txt": "from-the-project\n",
      "package.json": JSON.stringify({ name: "shipped", dependencies: { greeter: "file:./vendor/greeter" } }),
      "vendor/greeter/package.json": JSON.stringify({ name: "greeter", version: "1.0.0", main: "index.js" }),
      "vendor/greeter/index.js": "exports.greet = (who) => `hello ${who}`;\n",
      ".weirignore": "node_modules/\n*.secret\n",
      "local.secret": "must not be in the image",
      "weir.yaml": `build:
  - prefect_docker.deployments.steps.build_docker_image:
      id: build-image
      requires: prefect-docker>=0.3.1
      image_name: ${docker.registry}/team/shipped
      tag: v1
      additional_tags: [stable]
      dockerfile: auto
push:
  - prefect_docker.deployments.steps.push_docker_image:
      requires: prefect-docker>=0.3.1
      image_name: "{{ build-image.image_name }}"
      tag: "{{ build-image.tag }}"
      additional_tags: "{{ build-image.additional_tags }}"
      credentials: "{{ prefect.blocks.docker-registry-credentials.registry }}"
pull:
  - prefect.deployments.steps.set_working_directory:
      directory: /opt/prefect/shipped
deployments:
  - name: shipped
    entrypoint: flows/show.ts:show
    work_pool:
      name: containers
      job_variables:
        image: "{{ build-image.image }}"
        env: { GREETING: from-job-variables }
`,
    });
    // The project's own dependencies, installed here by the binary's package manager (deploy loads the flow).
    expect((await cli(["install-deps"], dir)).code).toBe(0);
    expect(existsSync(join(dir, "node_modules/greeter/index.js"))).toBe(true);
    expect((await cli(["work-pool", "create", "containers", "--type", "docker"])).code).toBe(0);
    agent = env.spawn(["agent", "--pool", "containers", "--kill-grace", "2"], { env: agentEnv });
    await agent.waitFor(/Agent .* started: pool "containers" \(docker\)/);

    const r = await cli(["deploy", "--all"], dir);
    if (r.code !== 0) console.log(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Step 1\/\d+ : FROM weir-runtime:/);
    expect(r.stdout).toContain('RUN ["weir", "install-deps"]');
    expect(r.stdout).toContain("1 package installed");
    expect(r.stdout).toContain(`Pushed ${docker.registry}/team/shipped:v1`);
    expect(r.stdout).toContain(`Pushed ${docker.registry}/team/shipped:stable`);
    expect(r.stdout + r.stderr).not.toContain(docker.password);
    // The registry has both tags.
    const tags = await fetch(`http://${docker.registry}/v2/team/shipped/tags/list`, {
      headers: { authorization: `Basic ${btoa(`${docker.user}:${docker.password}`)}` },
    }).then((x) => x.json() as Promise<{ tags: string[] }>);
    expect(tags.tags.sort()).toEqual(["stable", "v1"]);
    // The project folder was not written to, and the ignored file is not in the image.
    expect(existsSync(join(dir, "Dockerfile"))).toBe(false);

    const run = await env.json(["deployment", "run", "show/shipped"]);
    const done = await ended(run.id);
    expect(done.state.type).toBe("COMPLETED");
    const logs = await logsOf(run.id);
    expect(logs).toContain(
      "hello container cwd=/opt/weir/shipped data=from-the-project env=from-job-variables",
    );
    await agent.waitFor(/Started flow run .* as container [0-9a-f]{12}/);
    const ls = await api(
      `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`io.weir.flow-run-id=${run.id}`] }))}`,
    ).then((x) => x.json() as Promise<{ Id: string }[]>);
    expect(ls.length).toBe(1);
    const secret = await api(`/containers/${ls[0]!.Id}/archive?path=/opt/weir/shipped/local.secret`);
    expect(secret.status).toBe(404);
    // Nor is the Dockerfile Weir generated, nor the ignore file that kept it out.
    for (const f of ["Dockerfile.weir-auto", ".dockerignore"])
      expect((await api(`/containers/${ls[0]!.Id}/archive?path=/opt/weir/shipped/${f}`)).status).toBe(404);
    expect((await api(`/containers/${ls[0]!.Id}/archive?path=/opt/weir/shipped/data.txt`)).status).toBe(200);
  });

  test("an image only the registry has is pulled with the pool template's credentials", async () => {
    // Remove the local copies, so the run must pull.
    for (const t of ["v1", "stable"])
      await api(`/images/${encodeURIComponent(`${docker.registry}/team/shipped:${t}`)}?force=1`, {
        method: "DELETE",
      });
    const broken = await env.json(["deployment", "run", "show/shipped"]);
    const crashed = await env.waitForRun(broken.id, (x) => x.state.type === "CRASHED", 60_000);
    expect(crashed.state.message).toContain(`registry ${docker.registry} refused`);
    expect(crashed.state.message).toContain("no basic auth credentials");
    expect(crashed.state.message).toContain("set the registry_credentials job variable");

    const template = JSON.parse(
      (await cli(["work-pool", "get-default-base-job-template", "--type", "docker"])).stdout,
    );
    template.variables.properties.registry_credentials.default =
      "{{ weir.blocks.docker-registry-credentials.registry }}";
    const file = join(env.root, "docker-template.json");
    writeFileSync(file, JSON.stringify(template));
    expect((await cli(["work-pool", "update", "containers", "--base-job-template", file])).code).toBe(0);
    // A run's own job variables are checked with the template's defaults, the placeholder left for the agent.
    const run = await env.json(["deployment", "run", "show/shipped", "--job-variable", "mem_limit=256m"]);
    const done = await ended(run.id);
    expect(done.state.type).toBe("COMPLETED");
    expect(agent.out).toContain(`Pulling ${docker.registry}/team/shipped:v1`);
    expect(agent.out).not.toContain(docker.password);

    // image_pull_policy: Always wants the registry's copy: a pull that fails does not run the
    // copy this host now has.
    const always = await env.json([
      "deployment",
      "run",
      "show/shipped",
      "--job-variable",
      "image_pull_policy=Always",
      "--job-variable",
      "registry_credentials=null",
    ]);
    const stale = await env.waitForRun(always.id, (x) => x.state.type === "CRASHED", 60_000);
    expect(stale.state.message).toContain(
      "image_pull_policy is Always: the copy this host may have is not run",
    );

    // On a network of its own, the container cannot reach a server on the agent's loopback: the
    // run says why and what to do, instead of "start a server".
    const bridged = await env.json([
      "deployment",
      "run",
      "show/shipped",
      "--job-variable",
      "network_mode=bridge",
    ]);
    const cut = await env.waitForRun(bridged.id, (x) => x.state.type === "CRASHED", 90_000);
    expect(cut.state.message).toContain("host.docker.internal");
    // What the agent says comes before the container's last lines, not glued onto the last one.
    expect(cut.state.message).toMatch(
      /^The flow run's container [0-9a-f]{12} exited with code \d+ before the run reached a final state; its last lines:\n {2}/,
    );
    expect(cut.state.message.trimEnd()).not.toMatch(/before the run reached a final state$/);
    expect(cut.state.message).toContain(
      "this container reaches the agent's machine through the Docker bridge",
    );
  });

  test("a Dockerfile of the project's own is built with .dockerignore honoured", async () => {
    const dir = env.project("own", {
      "flows/sleepy.ts": SLEEP_FLOW,
      "flows/hog.ts": HOG_FLOW,
      "flows/env.ts": ENV_FLOW,
      Dockerfile: "FROM weir-runtime:0.1.0\nCOPY . /srv/own/\nWORKDIR /srv/own\n",
      ".dockerignore": "junk/\n",
      "junk/big.bin": "x".repeat(10_000),
      "weir.yaml": `build:
  - weir.steps.build_docker_image:
      id: img
      image_name: own
      tag: "1"
pull:
  - weir.steps.set_working_directory: { directory: /srv/own }
deployments:
  - name: sleepy
    entrypoint: flows/sleepy.ts:sleepy
    work_pool: { name: containers, job_variables: { image: "{{ img.image }}" } }
  - name: hog
    entrypoint: flows/hog.ts:hog
    work_pool:
      name: containers
      job_variables: { image: "{{ img.image }}", mem_limit: 160m, memswap_limit: 160m }
`,
    });
    const r = await cli(["deploy", "--all"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /Building own:1 from Dockerfile \(context: 6 files, [^)]*less what \.dockerignore lists\)/,
    );
    expect(r.stdout).toContain("the same step already ran in this deploy");
  });

  test("Prefect 2: deployment build -ib docker-container/NAME runs in containers of the block's image", async () => {
    const block = { image: "own:1", image_pull_policy: "NEVER", env: { FROM_BLOCK: "yes" }, command: null };
    expect(
      (await cli(["block", "create", "docker-container", "boxed", "--json", JSON.stringify(block)])).code,
    ).toBe(0);
    const dir = join(env.root, "own");
    const build = (pool: string, ...more: string[]) =>
      cli(
        [
          "deployment",
          "build",
          "flows/env.ts:envflow",
          "-n",
          "legacy",
          "-ib",
          "docker-container/boxed",
          "-p",
          pool,
          ...more,
        ],
        dir,
      );
    const wrongPool = await build("plain", "--apply");
    await cli(["work-pool", "create", "plain"]);
    const again = await cli(["deployment", "apply", "envflow-deployment.yaml"], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      'its infrastructure is docker-container, which runs on a docker work pool, and work pool "plain" is a process pool',
    );
    expect(wrongPool.stdout).toContain("Wrote envflow-deployment.yaml");
    const r = await build("containers", "--override", "env.X=over", "--apply");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("note: runs start in Docker containers: the work pool must be a docker pool");
    const run = await env.json(["deployment", "run", "envflow/legacy"]);
    const done = await ended(run.id);
    expect(done.state.type).toBe("COMPLETED");
    expect(await logsOf(run.id)).toContain("from-block=yes x=over cwd=/srv/own");
  });

  test("a cancelled run's container is stopped and removed; the run ends CANCELLED", async () => {
    const run = await env.json(["deployment", "run", "sleepy/sleepy"]);
    await env.waitForRun(run.id, (x) => x.state.type === "RUNNING", 60_000);
    expect((await env.cli(["flow-run", "cancel", run.id])).code).toBe(0);
    const done = await env.waitForRun(run.id, (x) => x.state.type === "CANCELLED", 60_000);
    expect(done.state.type).toBe("CANCELLED");
    const filter = encodeURIComponent(JSON.stringify({ label: [`io.weir.flow-run-id=${run.id}`] }));
    for (let i = 0; i < 100; i++) {
      const ls = (await api(`/containers/json?all=1&filters=${filter}`).then((x) => x.json())) as unknown[];
      if (ls.length === 0) break;
      await Bun.sleep(100);
    }
    expect(await api(`/containers/json?all=1&filters=${filter}`).then((x) => x.json())).toEqual([]);
  });

  test("a container killed for memory ends its run CRASHED, saying so", async () => {
    const run = await env.json(["deployment", "run", "hog/hog"]);
    const done = await ended(run.id);
    expect(done.state.type).toBe("CRASHED");
    expect(done.state.message).toContain("ran out of memory and was killed (OOMKilled, mem_limit 160m");
  });

  test("a missing image is named, with how to get it", async () => {
    const dir = env.project("noimage", {
      "flows/sleepy.ts": SLEEP_FLOW,
      "weir.yaml": `deployments:
  - name: never
    entrypoint: flows/sleepy.ts:sleepy
    pull: []
    work_pool: { name: containers, job_variables: { image: "nowhere/none:1", image_pull_policy: Never } }
  - name: absent
    entrypoint: flows/sleepy.ts:sleepy
    pull: []
    work_pool: { name: containers, job_variables: { image: "${docker.registry}/team/absent:1" } }
`,
    });
    expect((await cli(["deploy", "--all"], dir)).code).toBe(0);
    const never = await env.json(["deployment", "run", "sleepy/never"]);
    const n = await env.waitForRun(never.id, (x) => x.state.type === "CRASHED", 60_000);
    expect(n.state.message).toContain(
      "image nowhere/none:1 is not on this Docker host and image_pull_policy is Never",
    );
    const absent = await env.json(["deployment", "run", "sleepy/absent"]);
    const a = await env.waitForRun(absent.id, (x) => x.state.type === "CRASHED", 60_000);
    expect(a.state.message).toContain(
      `pull of ${docker.registry}/team/absent:1: registry ${docker.registry} refused`,
    );
  });

  test("a deployment whose runs would start in the bare runtime image with no code gets a note", async () => {
    const dir = env.project("nocode", {
      "flows/sleepy.ts": SLEEP_FLOW,
      "weir.yaml": `deployments:
  - { name: bare, entrypoint: flows/sleepy.ts:sleepy, work_pool: { name: containers } }
  - name: mounted
    entrypoint: flows/sleepy.ts:sleepy
    work_pool: { name: containers, job_variables: { volumes: ["/srv/flows:/opt/weir/nocode"] } }
`,
    });
    const r = await cli(["deploy", "--all"], dir);
    expect(r.code).toBe(0);
    const bare = r.stdout.slice(r.stdout.indexOf("sleepy/bare"), r.stdout.indexOf("sleepy/mounted"));
    expect(bare).toContain("which holds Weir but not this project, and there are no pull steps to fetch it");
    expect(r.stdout.slice(r.stdout.indexOf("sleepy/mounted"))).not.toContain(
      "holds Weir but not this project",
    );
  });

  test("job variables a docker pool does not have are refused at deploy, at their place", async () => {
    const dir = env.project("typo", {
      "flows/sleepy.ts": SLEEP_FLOW,
      "weir.yaml": `deployments:
  - name: typo
    entrypoint: flows/sleepy.ts:sleepy
    work_pool:
      name: containers
      job_variables:
        mem_limt: 1g
        volumes: [nocolon]
`,
    });
    const r = await cli(["deploy", "--all"], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'weir.yaml:7:19: deployment "typo": unknown job variable "mem_limt" (did you mean "mem_limit"?)',
    );
    expect(r.stdout).toContain("mem_limit");
    expect(r.stdout).toContain('weir.yaml:8:18: deployment "typo": job variable "volumes');
  });

  test("a build that fails names its Dockerfile step and the last lines of its output", async () => {
    const dir = env.project("badbuild", {
      "flows/sleepy.ts": SLEEP_FLOW,
      Dockerfile: 'FROM weir-runtime:0.1.0\nRUN ["weir", "no-such-command"]\n',
      "weir.yaml": `build:
  - weir.steps.build_docker_image: { image_name: bad, tag: "1" }
deployments:
  - { name: bad, entrypoint: flows/sleepy.ts:sleepy, work_pool: { name: containers } }
`,
    });
    const r = await cli(["deploy", "--all"], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/the build of bad:1 failed at "Step 2\/\d : RUN \["weir", "no-such-command"\]"/);
    expect(r.stdout).toContain("unknown command 'no-such-command'");
    expect(await fetch(`${env.apiUrl}/deployments/name/sleepy/bad`).then((x) => x.status)).toBe(404);
  });

  test("a push the registry refuses says why, and never shows the password", async () => {
    const dir = env.project("refused", {
      "flows/sleepy.ts": SLEEP_FLOW,
      "weir.yaml": `push:
  - weir.steps.push_docker_image:
      image_name: ${docker.registry}/team/shipped
      tag: v1
      credentials: { username: ${docker.user}, password: not-the-password, registry_url: ${docker.registry} }
  - weir.steps.push_docker_image:
      image_name: own
      tag: "1"
deployments:
  - { name: refused, entrypoint: flows/sleepy.ts:sleepy, work_pool: { name: containers } }
`,
    });
    const r = await cli(["deploy", "--all"], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `registry ${docker.registry} refused the log-in of user "${docker.user}" (401)`,
    );
    expect(r.stdout).not.toContain("not-the-password");

    // A registry nobody answers for is not a refused log-in.
    const nowhere = `127.0.0.1:${await freePort()}`;
    const far = env.project("unreachable", {
      "flows/sleepy.ts": SLEEP_FLOW,
      "weir.yaml": `push:
  - weir.steps.push_docker_image:
      image_name: ${nowhere}/team/shipped
      tag: v1
      credentials: { username: ${docker.user}, password: ${docker.password}, registry_url: ${nowhere} }
deployments:
  - { name: far, entrypoint: flows/sleepy.ts:sleepy, work_pool: { name: containers } }
`,
    });
    const u = await cli(["deploy", "--all"], far);
    expect(u.code).toBe(1);
    expect(u.stdout).toContain(`cannot reach registry ${nowhere} to log in as "${docker.user}"`);
    expect(u.stdout).not.toContain("refused the log-in");
    expect(u.stdout).not.toContain(docker.password);
  });

  test("with no daemon at DOCKER_HOST the agent and deploy say so in one line", async () => {
    const gone = { DOCKER_HOST: `unix://${join(env.root, "no-such.sock")}` };
    const a = await env.cli(["agent", "--pool", "containers"], { env: gone });
    expect(a.code).toBe(1);
    expect(errorLine(a).line).toContain(
      `cannot reach the Docker daemon at DOCKER_HOST=unix://${join(env.root, "no-such.sock")}`,
    );
    expect(errorLine(a).stack).toBe(false);
    const dir = env.project("nodaemon", {
      "flows/sleepy.ts": SLEEP_FLOW,
      "weir.yaml": `build:
  - weir.steps.build_docker_image: { image_name: x, dockerfile: auto }
deployments:
  - { name: nodaemon, entrypoint: flows/sleepy.ts:sleepy, work_pool: { name: containers } }
`,
    });
    const d = await env.cli(["deploy", "--all"], { cwd: dir, env: gone });
    expect(d.code).toBe(1);
    expect(d.stdout).toContain("cannot reach the Docker daemon at DOCKER_HOST=");
    // An agent for a docker pool that does not exist yet makes none while the daemon is away.
    const fresh = await env.cli(["agent", "--pool", "not-yet", "--type", "docker"], { env: gone });
    expect(fresh.code).toBe(1);
    expect(errorLine(fresh).line).toContain("cannot reach the Docker daemon");
    expect((await fetch(`${env.apiUrl}/work-pools/not-yet`)).status).toBe(404);
    // weir image build says so before it says it is building anything.
    const img = await env.cli(["image", "build"], { env: gone });
    expect(img.code).toBe(1);
    expect(errorLine(img).line).toContain("cannot reach the Docker daemon at DOCKER_HOST=");
    expect(img.stdout).toBe("");
  });

  test("a run whose daemon goes away ends CRASHED with the reason", async () => {
    const run = await env.json(["deployment", "run", "sleepy/sleepy"]);
    await env.waitForRun(run.id, (x) => x.state.type === "RUNNING", 60_000);
    await docker.stopDaemon();
    const done = await env.waitForRun(run.id, (x) => ["CRASHED", "FAILED"].includes(x.state.type), 90_000);
    expect(done.state.type).toBe("CRASHED");
    // dockerd stops its containers as it shuts down: the flow gets SIGTERM it did not ask for.
    expect(done.state.message).toMatch(/SIGTERM without being cancelled|lost contact with the Docker daemon/);
    // While the daemon is away the agent takes no runs: they wait, rather than crash one by one.
    const later = await env.json(["deployment", "run", "sleepy/sleepy"]);
    await agent.waitFor(
      /Not taking runs until docker infrastructure is back: cannot reach the Docker daemon/,
      60_000,
    );
    expect((await env.json(["flow-run", "inspect", later.id])).state.type).toBe("SCHEDULED");
  });
});
