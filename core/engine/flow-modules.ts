import { mkdtempSync, rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as valibot from "valibot";
import * as sdk from "../sdk/index.ts";

let registered = false;

/**
 * Makes `import ... from "weir"` and `from "valibot"` work in user flow files with nothing
 * installed: the binary serves both modules itself. Other imports resolve normally from the
 * flow project's own node_modules.
 */
export function registerFlowModules(): void {
  if (registered) return;
  registered = true;
  Bun.plugin({
    name: "weir-flow-modules",
    setup(build) {
      build.module("weir", () => ({ exports: { ...sdk }, loader: "object" }));
      build.module("valibot", () => ({ exports: { ...valibot }, loader: "object" }));
    },
  });
}

/**
 * Readies this process to import a flow before it has one (`weir execute --warm`): a fresh
 * process's first TypeScript module and first `import "weir"` cost ~3 ms together, paid here, off
 * the run's path, by importing a two-line module of its own. Best effort: a process that cannot
 * write a temporary file just pays it with the flow.
 */
export async function primeFlowImports(): Promise<void> {
  registerFlowModules();
  let dir: string | undefined;
  let file: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), "weir-prime-"));
    file = join(dir, "prime.ts");
    writeFileSync(file, 'import { flow } from "weir";\nexport const primed: unknown = flow;\n');
    await import(file);
  } catch {
    // Nothing to prime with: the flow's import does the same work.
  } finally {
    // One file and its folder: rmSync's recursive walk costs ~1.5 ms of the start.
    try {
      if (file) unlinkSync(file);
    } catch {}
    try {
      if (dir) rmdirSync(dir);
    } catch {}
  }
}
