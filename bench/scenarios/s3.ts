import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { S3Server } from "../../tests/e2e/s3-server.ts";
import { type Row, WEIR, Weir, WORK } from "../lib.ts";

/**
 * Code shipped through object storage, against s3rver on loopback: push and pull of 1,000 small
 * files and of one 1 GiB file through `weir deploy` (a push step; a build step pulling), with
 * wall time and the deploying process's peak RSS; and a redeploy of an unchanged project.
 */
export async function s3(): Promise<Row[]> {
  const server = new S3Server(!process.env.S3_DEBUG);
  await server.start(["bench"]);
  const weir = await new Weir("s3").start();
  const creds = JSON.stringify({
    aws_access_key_id: "S3RVER",
    aws_secret_access_key: "S3RVER",
    aws_client_parameters: { endpoint_url: server.endpoint },
  });
  Bun.spawnSync([WEIR, "block", "create", "aws-credentials", "bench", "--json", creds], { env: weir.env });
  const flow = `import { flow } from "weir";\nexport const f = flow({ name: "f" }, async () => {});\n`;
  const project = (name: string, yaml: string, files: (dir: string) => Promise<void> | void) => {
    const dir = join(WORK, name);
    mkdirSync(join(dir, "flows"), { recursive: true });
    writeFileSync(join(dir, "flows/f.ts"), flow);
    writeFileSync(join(dir, "weir.yaml"), yaml);
    return Promise.resolve(files(dir)).then(() => dir);
  };
  const pushYaml = (folder: string) => `push:
  - weir.steps.push_to_s3:
      bucket: bench
      folder: ${folder}
      credentials: "{{ weir.blocks.aws-credentials.bench }}"
deployments:
  - name: ${folder}
    entrypoint: flows/f.ts:f
`;
  const pullYaml = (folder: string, into: string) => `build:
  - weir.steps.set_working_directory: { directory: ${into} }
  - weir.steps.pull_from_s3:
      bucket: bench
      folder: ${folder}
      credentials: "{{ weir.blocks.aws-credentials.bench }}"
deployments:
  - name: pull-${folder}
    entrypoint: flows/f.ts:f
`;
  /** Runs `weir deploy --all` in `dir`: seconds, peak RSS (MB), and what it printed. */
  const deploy = async (dir: string) => {
    const started = performance.now();
    const p = Bun.spawn([WEIR, "deploy", "--all"], {
      cwd: dir,
      env: weir.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {}
    }, 20);
    const [out, err, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    clearInterval(poll);
    if (code !== 0) throw new Error(`deploy in ${dir} failed:\n${out}${err}`);
    return { seconds: (performance.now() - started) / 1000, peak, out };
  };
  try {
    const small = await project("s3-small", pushYaml("small"), (dir) => {
      for (let i = 0; i < 1000; i++) {
        mkdirSync(join(dir, "data", String(i % 20)), { recursive: true });
        writeFileSync(join(dir, "data", String(i % 20), `f${i}.txt`), `${"x".repeat(1000)}${i}\n`);
      }
    });
    const push1k = await deploy(small);
    const again = await deploy(small);
    const uploadedAgain = Number(/Uploaded (\d+) file/.exec(again.out)?.[1] ?? Number.NaN);
    if (process.env.S3_DEBUG) console.log(again.out);
    const into1k = join(WORK, "s3-pulled-small");
    mkdirSync(into1k, { recursive: true });
    const pull1k = await deploy(await project("s3-pull-small", pullYaml("small", into1k), () => {}));

    const big = await project("s3-big", pushYaml("big"), async (dir) => {
      const w = Bun.file(join(dir, "big.bin")).writer();
      const chunk = new Uint8Array(8 * 1024 * 1024);
      for (let i = 0; i < 128; i++) {
        crypto.getRandomValues(chunk.subarray(0, 65536));
        w.write(chunk);
      }
      await w.end();
    });
    const pushBig = await deploy(big);
    rmSync(join(big, "big.bin"));
    const intoBig = join(WORK, "s3-pulled-big");
    mkdirSync(intoBig, { recursive: true });
    const pullBig = await deploy(await project("s3-pull-big", pullYaml("big", intoBig), () => {}));
    rmSync(intoBig, { recursive: true, force: true });
    return [
      { metric: "push 1,000 files of 1 KB", value: push1k.seconds, unit: "s" },
      { metric: "  peak RSS of the deploy", value: push1k.peak, unit: "MB" },
      {
        metric: "redeploy unchanged: objects uploaded",
        value: uploadedAgain,
        unit: "",
        target: { below: 1 },
      },
      { metric: "redeploy unchanged: time", value: again.seconds, unit: "s" },
      { metric: "pull 1,000 files of 1 KB", value: pull1k.seconds, unit: "s" },
      { metric: "  peak RSS", value: pull1k.peak, unit: "MB" },
      { metric: "push one 1 GiB file", value: pushBig.seconds, unit: "s" },
      { metric: "  peak RSS", value: pushBig.peak, unit: "MB", target: { below: 200 } },
      { metric: "pull one 1 GiB file", value: pullBig.seconds, unit: "s" },
      { metric: "  peak RSS", value: pullBig.peak, unit: "MB", target: { below: 200 } },
    ];
  } finally {
    await weir.stop();
    await server.dispose();
  }
}
