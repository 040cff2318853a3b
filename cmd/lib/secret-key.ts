import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { type KeyEntry, keyFromEnv, keyLine, newKey, parseKeyFile } from "../../core/auth/index.ts";
import { WeirError, weirHome } from "../../core/model/index.ts";

export const keyFile = (): string => join(weirHome(), "secret-key");

/**
 * The keys secret block fields are sealed with: WEIR_SECRET_KEY, or $WEIR_HOME/secret-key
 * (created, mode 600, on the first start). `created` says a new key file was written.
 */
export function loadKeys(create: boolean): { keys: KeyEntry[]; source: string; created: boolean } {
  const env = process.env.WEIR_SECRET_KEY;
  if (env) return { keys: [keyFromEnv(env)], source: "WEIR_SECRET_KEY", created: false };
  const file = keyFile();
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0)
      throw new WeirError(
        "INVALID",
        `${file} can be read by other users: make it private with: chmod 600 ${file}`,
      );
    return { keys: parseKeyFile(readFileSync(file, "utf8"), file), source: file, created: false };
  }
  if (!create)
    throw new WeirError(
      "NOT_FOUND",
      `There is no secret key at ${file} (a server makes one on its first start)`,
    );
  // Servers starting together on one WEIR_HOME must end with one key: the first file to land wins
  // (a hard link fails when the name exists) and the others read it.
  const key = newKey();
  const tmp = `${file}.${process.pid}`;
  writeKeys(tmp, [key]);
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return { keys: parseKeyFile(readFileSync(file, "utf8"), file), source: file, created: false };
  } finally {
    rmSync(tmp, { force: true });
  }
  return { keys: [key], source: file, created: true };
}

/** Writes the key file whole (to a temporary file first, then renamed: never half written). */
export function writeKeys(file: string, keys: KeyEntry[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.new`;
  writeFileSync(
    tmp,
    `# Weir's secret key(s): secret block fields in the database are sealed with the last one.\n# Back this file up with the database; without it those secrets cannot be read.\n${keys.map(keyLine).join("\n")}\n`,
    { mode: 0o600 },
  );
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
