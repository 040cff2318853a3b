import { homedir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { WeirError } from "./errors.ts";

/** $WEIR_HOME, default ~/.weir: the embedded database and installed step packages live here. */
export const weirHome = (): string => process.env.WEIR_HOME || join(homedir(), ".weir");

/** Whether `dir` is `root` or inside it (after resolving `..`). */
export function isInside(dir: string, root: string): boolean {
  const rel = relative(resolve(root), resolve(dir));
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * Refuses a folder outside every one of `roots` (where an agent runs code from), naming the flag
 * that allows it. `what` says which setting named it: "working_dir /x", "/x".
 */
export function requireInside(dir: string, roots: string[], what = dir): void {
  if (roots.some((root) => isInside(dir, root))) return;
  throw new WeirError(
    "INVALID",
    `${what} is outside the folders this agent runs code from (${roots.join(", ")}); start the agent (or weir server --agent) with --allow-dir ${dir} (or a folder above it) to allow it`,
  );
}

/**
 * A worker thread's module: in the compiled binary an entrypoint of its own (scripts/build.ts
 * lists it), stored under /$bunfs/root/ by its path in the repository (`repoPath`, without the
 * extension); from source, the file itself (`source`).
 */
export function workerModule(repoPath: string, source: URL): string {
  return Bun.main.startsWith("/$bunfs/") ? `/$bunfs/root/${repoPath}.js` : source.href;
}
