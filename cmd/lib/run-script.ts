import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { TS_LIKE } from "../../core/engine/load-flow.ts";
import { WeirError } from "../../core/model/index.ts";
import { type Flow, isFlow } from "../../core/sdk/flow.ts";

/**
 * `weir run script.ts`: imports the file, which runs it (top-level await included), with "weir"
 * and "valibot" served by the binary, so CI scripts can deploy() and runDeployment() with nothing
 * else installed. Returns its default export when that is a flow (the caller runs it), else null,
 * and the names of the flows it exports.
 * An error the script throws ends the command with exit 1: Weir's own errors as one line, others
 * with their stack (it is the script's code).
 */
export async function runScript(
  file: string,
  args: string[],
): Promise<{ flow: Flow | null; flowExports: string[] }> {
  const path = resolve(file);
  if (!TS_LIKE.test(path))
    throw new WeirError(
      "USAGE",
      `${file} is not a TypeScript or JavaScript file (weir run FILE.ts, or FILE.ts:flowName)`,
    );
  if (!existsSync(path)) throw new WeirError("USAGE", `${file} does not exist (give the script's path)`);
  process.argv = [process.argv[0]!, path, ...args];
  let mod: Record<string, unknown>;
  try {
    mod = await import(path);
  } catch (err) {
    if (err instanceof WeirError) throw err;
    const e = err as Error;
    throw new WeirError("INVALID", `${file} failed: ${e?.stack ?? String(err)}`, { cause: err });
  }
  return {
    flow: isFlow(mod.default) ? mod.default : null,
    flowExports: Object.entries(mod)
      .filter(([k, v]) => k !== "default" && isFlow(v))
      .map(([k]) => k),
  };
}
