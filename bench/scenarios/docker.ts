import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dockerMissing, startDockerHost } from "../../tests/e2e/docker-host.ts";
import { pct, type Row, WEIR, Weir, WORK } from "../lib.ts";

/**
 * Docker work pools against a real dockerd (started here on a private socket): the runtime image
 * built FROM scratch, `weir deploy` building a small project's image (dockerfile: auto) with the
 * runtime image present, and submit → the flow's first line of code running in a container, one
 * run after another. The peer, measured in the same run on the same daemon: a bare container of
 * the same image created, started and waited for over the Engine API (what any container launch
 * costs, with no orchestrator at all).
 */
export async function docker(): Promise<Row[]> {
  const missing = dockerMissing();
  if (missing) {
    console.log(missing);
    return [];
  }
  const n = Number(process.env.BENCH_RUNS ?? 20);
  const host = await startDockerHost();
  const weir = await new Weir("docker").start();
  const env = { ...weir.env, DOCKER_HOST: host.host };
  const run = (args: string[], cwd?: string) => {
    const started = performance.now();
    const r = Bun.spawnSync([WEIR, ...args], { cwd, env, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`weir ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
    return { seconds: (performance.now() - started) / 1000, out: r.stdout.toString() };
  };
  const api = (path: string, init?: RequestInit) =>
    fetch(`http://docker${path}`, { ...init, unix: host.socket } as RequestInit);
  try {
    const runtime = run(["image", "build"]);
    const dir = join(WORK, "docker-project");
    mkdirSync(join(dir, "flows"), { recursive: true });
    writeFileSync(
      join(dir, "flows/first.ts"),
      `import { flow, log } from "weir";\nexport const first = flow({ name: "first" }, async () => { log.info(String(Date.now())); });\n`,
    );
    for (let i = 0; i < 20; i++)
      writeFileSync(join(dir, `data-${i}.json`), JSON.stringify({ i, pad: "x".repeat(2000) }));
    writeFileSync(
      join(dir, "weir.yaml"),
      `build:
  - weir.steps.build_docker_image: { id: img, image_name: bench/first, tag: "1", dockerfile: auto }
pull:
  - weir.steps.set_working_directory: { directory: /opt/weir/docker-project }
deployments:
  - name: d
    entrypoint: flows/first.ts:first
    work_pool: { name: containers, job_variables: { image: "{{ img.image }}" } }
`,
    );
    run(["work-pool", "create", "containers", "--type", "docker"]);
    const firstBuild = run(["deploy", "--all"], dir);
    writeFileSync(join(dir, "data-0.json"), JSON.stringify({ changed: Date.now() }));
    const changedBuild = run(["deploy", "--all"], dir);
    const agent = Bun.spawn([WEIR, "agent", "--pool", "containers"], {
      env,
      stdout: "ignore",
      stderr: "inherit",
    });
    weir.children.push(agent);
    for (let i = 0; i < 200 && ((await weir.get("/agents?pool=containers")) as unknown[]).length === 0; i++)
      await Bun.sleep(20);
    const ids = (await weir.get("/deployments")) as { id: string; name: string }[];
    const id = ids.find((d) => d.name === "d")!.id;
    const lat: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await weir.post(`/deployments/${id}/runs`);
      const returned = Date.now();
      const { run: final } = await weir.waitFinal(r.id);
      if (final.state.type !== "COMPLETED")
        throw new Error(`run ended ${final.state.type}: ${final.state.message}`);
      const logs = (await weir.get(`/flow-runs/${r.id}/logs`)) as { message: string }[];
      lat.push(Number(logs[0]?.message) - returned);
    }
    // The peer: a bare container of the same image running the binary, over the same API.
    const bare: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      const c = (await (
        await api("/containers/create", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            Image: "bench/first:1",
            Cmd: ["weir", "--version"],
            HostConfig: { NetworkMode: "host" },
          }),
        })
      ).json()) as { Id: string };
      await api(`/containers/${c.Id}/start`, { method: "POST" });
      await api(`/containers/${c.Id}/wait`, { method: "POST" });
      bare.push(performance.now() - started);
      await api(`/containers/${c.Id}?force=1`, { method: "DELETE" });
    }
    return [
      { metric: "weir image build (runtime image)", value: runtime.seconds, unit: "s" },
      { metric: "deploy: build small project (auto)", value: firstBuild.seconds, unit: "s" },
      { metric: "deploy: rebuild, one file changed", value: changedBuild.seconds, unit: "s" },
      {
        metric: `submit → flow code in container p50 (${n})`,
        value: pct(lat, 50),
        unit: "ms",
        target: { below: 1000 },
        peer: pct(bare, 50),
      },
      { metric: "  p95", value: pct(lat, 95), unit: "ms", peer: pct(bare, 95) },
    ];
  } finally {
    await weir.stop();
    await host.dispose();
  }
}
