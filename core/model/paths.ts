import { homedir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";

/** $WEIR_HOME, default ~/.weir: the embedded database and installed step packages live here. */
export const weirHome = (): string => process.env.WEIR_HOME || join(homedir(), ".weir");

/** Whether `dir` is `root` or inside it (after resolving `..`). */
export function isInside(dir: string, root: string): boolean {
  const rel = relative(resolve(root), resolve(dir));
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}
