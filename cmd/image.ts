import type { Command } from "@commander-js/extra-typings";

export function register(program: Command): void {
  const cmd = program.command("image").description("Build the Weir runtime image (docker work pools)");

  cmd
    .command("build")
    .description(
      "Build the Weir runtime image FROM scratch out of this binary and the libraries it links: no registry needed. `dockerfile: auto` builds start FROM it",
    )
    .option("--tag <name:tag>", "the image's name (default: weir-runtime:VERSION)")
    .action(async (opts) => {
      const { DockerEngine } = await import("../plugins/docker/engine.ts");
      const { buildRuntimeImage, compiledBinary, runtimeImage } = await import(
        "../plugins/docker/runtime-image.ts"
      );
      const { lineProgress, terminalProgress } = await import("../core/steps/index.ts");
      const { makeLogger } = await import("../core/sdk/logger.ts");
      const pkg = (await import("../package.json", { with: { type: "json" } })).default;
      const engine = DockerEngine.fromEnv();
      // The daemon first: nothing is said to be building when there is nothing to build on.
      await engine.ping();
      const tag = opts.tag ?? runtimeImage(pkg.version);
      const progress =
        process.stdout.isTTY && !process.env.NO_COLOR
          ? terminalProgress(process.stdout)
          : lineProgress(makeLogger((_, line) => console.log(line)));
      const started = performance.now();
      const binary = compiledBinary();
      const id = await buildRuntimeImage(engine, {
        binary,
        version: pkg.version,
        tag,
        log: (line) => console.log(line),
        progress: (key, status, detail) => progress.update(key, status, detail),
        run: async (argv) => {
          const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
          const [stdout, stderr, code] = await Promise.all([
            new Response(p.stdout).text(),
            new Response(p.stderr).text(),
            p.exited,
          ]);
          return { code, stdout, stderr };
        },
      });
      progress.done();
      const info = await engine.inspectImage(id);
      const mb = info ? ` (${(info.Size / 1e6).toFixed(0)} MB)` : "";
      console.log(
        `Built ${tag}${mb} in ${((performance.now() - started) / 1000).toFixed(1)} s; docker work pools run it unless a run names another image`,
      );
    });
}
