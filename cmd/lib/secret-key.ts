import { join } from "node:path";
import { type KeyEntry, keyFromEnv, keyLine, newKey, parseKeyFile } from "../../core/auth/index.ts";
import { WeirError, weirHome } from "../../core/model/index.ts";
import { createPrivateOnce, readPrivate, writePrivate } from "./private-file.ts";

export const keyFile = (): string => join(weirHome(), "secret-key");

/**
 * The keys secret block fields are sealed with: WEIR_SECRET_KEY, or $WEIR_HOME/secret-key
 * (created, mode 600, on the first start). `created` says a new key file was written.
 */
export function loadKeys(create: boolean): { keys: KeyEntry[]; source: string; created: boolean } {
  const env = process.env.WEIR_SECRET_KEY;
  if (env) return { keys: [keyFromEnv(env)], source: "WEIR_SECRET_KEY", created: false };
  const file = keyFile();
  const existing = readPrivate(file);
  if (existing !== null) return { keys: parseKeyFile(existing, file), source: file, created: false };
  if (!create)
    throw new WeirError(
      "NOT_FOUND",
      `There is no secret key at ${file} (a server makes one on its first start)`,
    );
  const { text, created } = createPrivateOnce(file, keyFileText([newKey()]));
  return { keys: parseKeyFile(text, file), source: file, created };
}

const keyFileText = (keys: KeyEntry[]) =>
  `# Weir's secret key(s): secret block fields in the database are sealed with the last one.\n# Back this file up with the database; without it those secrets cannot be read.\n${keys.map(keyLine).join("\n")}\n`;

/** Writes the key file whole (never half written). */
export function writeKeys(file: string, keys: KeyEntry[]): void {
  writePrivate(file, keyFileText(keys));
}
