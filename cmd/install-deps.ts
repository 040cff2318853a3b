import type { Command } from "@commander-js/extra-typings";

export function register(program: Command): void {
  program
    .command("install-deps")
    .description(
      "Install a flow project's package.json dependencies with the package manager built into this binary (images built with dockerfile: auto run it; no npm needed)",
    )
    .argument("[dir]", "the project folder", ".")
    .action(async (dir) => {
      const { mkdtempSync, rmSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const { join, resolve } = await import("node:path");
      const { WeirError } = await import("../core/model/index.ts");
      // The compiled binary is Bun: with BUN_BE_BUN=1 it is Bun's own CLI, `bun install` included.
      const { existsSync, statSync } = await import("node:fs");
      if (!existsSync(resolve(dir)) || !statSync(resolve(dir)).isDirectory())
        throw new WeirError("USAGE", `${dir}: there is no folder ${resolve(dir)} (give the project folder)`);
      const cache = mkdtempSync(join(tmpdir(), "weir-deps-"));
      try {
        const p = Bun.spawn([process.execPath, "install", "--production"], {
          cwd: resolve(dir),
          env: { ...process.env, BUN_BE_BUN: "1", BUN_INSTALL_CACHE_DIR: cache },
          stdin: "ignore",
          stdout: "inherit",
          stderr: "inherit",
        });
        const code = await p.exited;
        if (code !== 0)
          throw new WeirError(
            "FAILED",
            `installing the dependencies of ${resolve(dir)} failed (exit ${code}); the lines above say why`,
          );
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    });
}
