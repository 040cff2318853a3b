import { join } from "node:path";
import {
  type KeyEntry,
  keyFromEnv,
  keyLine,
  newKey,
  parseKeyFile,
  SecretBox,
} from "../../core/auth/index.ts";
import { describeError, secretFieldNames, WeirError, weirHome } from "../../core/model/index.ts";
import type { Registry } from "../../core/plugin/index.ts";
import type { Store } from "../../core/store/index.ts";
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

/**
 * Why this server cannot open the database's secrets, or null: one sealed value per key id is
 * opened. A server started with another key (or with none, making a new one) would otherwise
 * start, fail every run that resolves a secret, and seal new ones no other server can open.
 */
export async function unopenableSecrets(
  store: Store,
  box: SecretBox,
  types: Registry,
): Promise<string | null> {
  const tried = new Set<string>();
  for (let offset = 0; ; offset += 500) {
    const blocks = await store.listBlocks({ limit: 500, offset });
    for (const b of blocks)
      for (const name of secretFieldNames(types.blockType(b.type))) {
        const value = b.data[name];
        if (!SecretBox.isSealed(value)) continue;
        const id = value.split(":")[2] ?? ""; // weir-sealed:v1:ID:...
        if (tried.has(id)) continue;
        tried.add(id);
        try {
          await box.open(value);
        } catch (err) {
          return `block ${b.type}/${b.name}: ${describeError(err)}`;
        }
      }
    if (blocks.length < 500) return null;
  }
}
