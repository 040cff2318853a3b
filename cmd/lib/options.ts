import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { WeirClient } from "../../core/client/index.ts";
import { parseValue, WeirError, weirHome as weirHomeDir } from "../../core/model/index.ts";

/** Commander reducer for repeatable options (`--param a=1 --param b=2`). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Commander parser for a whole-number option or argument from `min` to `max`, named in its error. */
function wholeNumber(flag: string, min: number, max: number) {
  return (value: string): number => {
    // Digits only: Number() would also take " 3", "0x10", "2e3" and "1_0"-like forms.
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new WeirError(
        "USAGE",
        `${flag} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"} (got "${value}")`,
      );
    return n;
  };
}

export const positiveInt = (flag: string, max = Number.MAX_SAFE_INTEGER) => wholeNumber(flag, 1, max);

/** Commander reducer for a repeatable folder option: each must be a folder that exists (a typo shows only when runs are refused). */
export const collectDirs =
  (flag: string) =>
  (value: string, previous: string[] = []): string[] => {
    if (!existsSync(value) || !statSync(value).isDirectory())
      throw new WeirError("USAGE", `${flag} ${value}: there is no folder ${resolve(value)}`);
    return [...previous, value];
  };

/** A whole number from 0 (a limit of 0 holds everything back). */
export const nonNegativeInt = (flag: string, max = 1_000_000) => wholeNumber(flag, 0, max);

/**
 * `--limit N` / `--no-limit` as the API takes them: the number, null to remove the limit, or
 * undefined when neither is given. Commander sets the option to false for --no-limit (its typings
 * know only the number).
 */
export function limitOption(value: number | boolean | undefined): number | null | undefined {
  const raw = value as number | boolean | undefined;
  if (raw === false && process.argv.some((a) => a === "--limit" || a.startsWith("--limit=")))
    throw new WeirError("USAGE", "--limit and --no-limit contradict each other: give one");
  return raw === false ? null : typeof raw === "number" ? raw : undefined;
}

export { weirHome } from "../../core/model/index.ts";

export const defaultDatabase = (): string => process.env.WEIR_DATABASE_URL || join(weirHomeDir(), "weir.db");

export const client = (): WeirClient => new WeirClient();

/**
 * A --db naming an embedded database file must name one that exists, for commands that work on
 * a database a server made (a typo would otherwise make a new, empty one and work on that).
 */
export async function requireExistingDatabase(url: string): Promise<void> {
  // Read as openStore reads it (a file: URL's query and %-escapes), so no address it opens is
  // refused. Loaded here, not at the top: every command imports this file, few open a database.
  const { databaseUrl, filePath } = await import("../../core/store/index.ts");
  const full = databaseUrl(url);
  if (!full.startsWith("file:")) return;
  const path = filePath(full);
  if (!existsSync(resolve(path)))
    throw new WeirError(
      "USAGE",
      `there is no database at ${resolve(path)} (check --db, WEIR_DATABASE_URL or WEIR_HOME)`,
    );
}

/** `k=v` pairs into an object, values read as JSON when they parse. */
export function keyValues(pairs: string[] | undefined, flag: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new WeirError("USAGE", `${flag} "${pair}" must look like KEY=VALUE`);
    const path = pair.slice(0, eq).split(".");
    // Names an object's own machinery, not a key: it would change every object of the process.
    const bad = path.find((k) => k === "__proto__" || k === "constructor" || k === "prototype" || k === "");
    if (bad !== undefined)
      throw new WeirError(
        "USAGE",
        `${flag} "${pair}": ${bad === "" ? "an empty key" : `"${bad}"`} cannot be a key (KEY.SUB=VALUE names keys of the value)`,
      );
    setPath(out, path, parseValue(pair.slice(eq + 1)));
  }
  return out;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof cur[key] !== "object" || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}
