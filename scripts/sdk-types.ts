// The declarations of the "weir" module that flow files import, generated from the SDK's source
// (core/sdk/index.ts and everything it imports) by the TypeScript compiler in node_modules.
// scripts/build.ts embeds them in the binary for `weir types`; running from source, `weir types`
// calls this directly. Needs node_modules, so the binary never imports it.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, relative, sep } from "node:path";

const root = join(import.meta.dir, "..");

/** Where the SDK's entry point lands in the map sdkDeclarations() returns. */
export const SDK_ENTRY = "sdk/index.d.ts";

/**
 * Emits the declarations of core/sdk/index.ts and of every module it imports, and returns those
 * the module's types need (see reachable) as relative path (e.g. "sdk/index.d.ts",
 * "model/types.d.ts", always "/"-separated, relative to core/) → text, sorted by path. Imports
 * between them keep their "./x.ts" specifiers. Throws with the compiler's output if it reports any
 * error (not type errors in the SDK's code, which `tsc -p .` reports).
 */
export async function sdkDeclarations(): Promise<Record<string, string>> {
  const tmp = mkdtempSync(join(tmpdir(), "weir-sdk-types-"));
  const outDir = join(tmp, "out");
  try {
    // The repository's own compiler options (those `tsc -p .` checks the SDK with: lib, strict,
    // types bun, ...), emitting declarations only, for core/sdk/index.ts and what it imports.
    const config = {
      extends: join(root, "tsconfig.json"),
      compilerOptions: {
        noEmit: false,
        declaration: true,
        emitDeclarationOnly: true,
        outDir,
        // Fixed, so the paths stay "sdk/…" whatever the SDK imports; a module outside core/ is an error.
        rootDir: join(root, "core"),
        // `types: ["bun"]` is looked up from this file's folder otherwise, which is not the repository.
        typeRoots: [join(root, "node_modules/@types")],
        // `tsc -p .` (npm run check) type-checks these same files with these same options; this run
        // still fails on what is particular to declarations (a type it cannot name, …) and saves
        // a third of its time in every build.
        noCheck: true,
      },
      files: [join(root, "core/sdk/index.ts")],
      include: [],
    };
    writeFileSync(join(tmp, "tsconfig.json"), JSON.stringify(config));
    const tsc = Bun.spawn(
      // Its launcher is a node script; Bun runs it, so building still needs nothing but Bun.
      [
        process.execPath,
        join(root, "node_modules/typescript/bin/tsc"),
        "-p",
        join(tmp, "tsconfig.json"),
        "--pretty",
        "false",
      ],
      { cwd: root, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    const [stdout, stderr, code] = await Promise.all([
      new Response(tsc.stdout).text(),
      new Response(tsc.stderr).text(),
      tsc.exited,
    ]);
    const output = (stdout + stderr).trim();
    if (code !== 0 || output !== "") {
      throw new Error(
        `tsc could not emit the declarations of "weir" from core/sdk/index.ts (exit ${code}):\n${output}`,
      );
    }
    const emitted = existsSync(outDir) ? readdirSync(outDir, { recursive: true, encoding: "utf8" }) : [];
    const all = new Map<string, string>();
    for (const p of emitted) {
      if (p.endsWith(".d.ts")) all.set(p.split(sep).join("/"), readFileSync(join(outDir, p), "utf8"));
    }
    if (!all.has(SDK_ENTRY)) {
      throw new Error(
        `tsc emitted no ${SDK_ENTRY} for core/sdk/index.ts; it wrote: ${[...all.keys()].join(", ") || "nothing"}`,
      );
    }
    const files: Record<string, string> = {};
    for (const p of [...reachable(all)].sort()) files[p] = all.get(p)!;
    return files;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The declarations sdk/index.d.ts reaches through relative imports, itself included: what the
 * SDK imports only for its implementation (the engine, the agent, ...) is emitted too, but is no
 * part of the module's types, so it is left out of the binary and of flow projects.
 */
function reachable(all: Map<string, string>): Set<string> {
  const seen = new Set<string>();
  const todo = [SDK_ENTRY];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    // import … from "./x.ts", export … from "./x.ts", import("./x.ts"), /// <reference path="./x.ts" />
    const specifiers = all
      .get(file)!
      .matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|path=)["'](\.{1,2}\/[^"']*)["']/g);
    for (const [, specifier] of specifiers) {
      const base = posix.join(posix.dirname(file), specifier!).replace(/\.(d\.ts|[mc]?[tj]sx?)$/, "");
      const target = [`${base}.d.ts`, `${base}/index.d.ts`].find((p) => all.has(p));
      if (target) todo.push(target);
    }
  }
  return seen;
}

if (import.meta.main) {
  // `bun scripts/sdk-types.ts [DIR]`: prints the paths, or writes the tree into DIR to inspect it.
  const files = await sdkDeclarations();
  const dir = process.argv[2];
  for (const [p, text] of Object.entries(files)) {
    if (dir) await Bun.write(join(dir, p), text);
    console.log(dir ? relative(process.cwd(), join(dir, p)) : p);
  }
}
