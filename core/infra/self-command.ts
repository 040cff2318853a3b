import { resolve } from "node:path";

/**
 * The argv prefix that starts this same Weir again: the compiled binary itself, or Bun with
 * main.ts when running from source. Agents use it to start `weir execute <id>`.
 */
export function selfCommand(): string[] {
  if (process.env.WEIR_SELF_COMMAND) return JSON.parse(process.env.WEIR_SELF_COMMAND) as string[];
  const main = Bun.main;
  if (main.startsWith("/$bunfs/") || main.startsWith("B:\\~BUN\\")) return [process.execPath];
  return [process.execPath, resolve(import.meta.dir, "../../main.ts")];
}
