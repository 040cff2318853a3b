import { WeirError } from "../model/index.ts";

/**
 * Secret block fields at rest: each value is sealed with AES-256-GCM (WebCrypto) under the
 * server's key before it reaches the database, as `weir-sealed:v1:KEYID:IV:CIPHERTEXT` (base64url),
 * and opened only for a caller allowed to see secrets. The key id lets several keys coexist while
 * they are rotated (`weir secret-key rotate`): values are sealed with the newest, opened with
 * whichever sealed them. A value without the prefix (written before sealing existed) is read as is
 * and sealed at the next rotation.
 */
const PREFIX = "weir-sealed:v1:";

export interface KeyEntry {
  id: string;
  /** 32 raw bytes. */
  key: Uint8Array<ArrayBuffer>;
}

export class SecretBox {
  readonly #keys = new Map<string, Promise<CryptoKey>>();
  readonly currentId: string;

  constructor(keys: KeyEntry[]) {
    if (keys.length === 0) throw new Error("SecretBox needs at least one key");
    for (const k of keys) {
      if (k.key.length !== 32) throw new WeirError("INVALID", `secret key ${k.id} is not 32 bytes`);
      this.#keys.set(k.id, crypto.subtle.importKey("raw", k.key, "AES-GCM", false, ["encrypt", "decrypt"]));
    }
    this.currentId = keys.at(-1)!.id;
  }

  static isSealed(x: unknown): x is string {
    return typeof x === "string" && x.startsWith(PREFIX);
  }

  async seal(value: unknown): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const key = await this.#keys.get(this.currentId)!;
    const plain = new TextEncoder().encode(JSON.stringify(value));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plain));
    return `${PREFIX}${this.currentId}:${b64(iv)}:${b64(sealed)}`;
  }

  async open(x: unknown): Promise<unknown> {
    if (!SecretBox.isSealed(x)) return x;
    const [id, iv, data] = x.slice(PREFIX.length).split(":");
    const named = this.#keys.get(id ?? "");
    if (iv && data) {
      // The key of its id first; then the others, since a key given as WEIR_SECRET_KEY has the id
      // "env" whatever it is, while a rotation to it sealed under "env-<time>". AES-GCM's tag says
      // which key is the right one.
      const keys = named
        ? [named, ...[...this.#keys.values()].filter((k) => k !== named)]
        : [...this.#keys.values()];
      for (const key of keys) {
        try {
          const plain = await crypto.subtle.decrypt(
            { name: "AES-GCM", iv: unb64(iv) },
            await key,
            unb64(data),
          );
          return JSON.parse(new TextDecoder().decode(plain));
        } catch {}
      }
    }
    throw new WeirError(
      "FAILED",
      named
        ? `A secret sealed with key "${id}" could not be opened: the key is wrong or the value was altered`
        : `A secret was sealed with key "${id}", which this server does not have (WEIR_SECRET_KEY or $WEIR_HOME/secret-key must be the one the database was written with)`,
    );
  }

  /** Seals the named fields of a block's data (null and absent fields stay as they are). */
  async sealFields(data: Record<string, unknown>, fields: string[]): Promise<Record<string, unknown>> {
    const out = { ...data };
    for (const f of fields)
      if (out[f] != null && !SecretBox.isSealed(out[f])) out[f] = await this.seal(out[f]);
    return out;
  }

  async openFields(data: Record<string, unknown>, fields: string[]): Promise<Record<string, unknown>> {
    const out = { ...data };
    for (const f of fields) if (out[f] != null) out[f] = await this.open(out[f]);
    return out;
  }
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const unb64 = (s: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(s, "base64url"));

/** A key file's text: one `ID BASE64KEY` line per key, the newest last. */
export function parseKeyFile(text: string, file: string): KeyEntry[] {
  const keys: KeyEntry[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [id, key] = line.split(/\s+/);
    const bytes = key ? Buffer.from(key, "base64") : Buffer.alloc(0);
    if (!id || bytes.length !== 32)
      throw new WeirError("INVALID", `${file}:${i + 1}: expected "ID BASE64KEY" with a 32-byte key`);
    keys.push({ id, key: new Uint8Array(bytes) });
  }
  return keys;
}

export function newKey(): KeyEntry {
  return {
    id: Date.now().toString(36),
    key: crypto.getRandomValues(new Uint8Array(32)),
  };
}

export const keyLine = (k: KeyEntry) => `${k.id} ${Buffer.from(k.key).toString("base64")}`;

/** WEIR_SECRET_KEY: 32 bytes in base64, or any passphrase of 32+ characters (hashed to a key). */
export function keyFromEnv(text: string): KeyEntry {
  const raw = Buffer.from(text, "base64");
  if (raw.length === 32 && /^[A-Za-z0-9+/=]+$/.test(text.trim()))
    return { id: "env", key: new Uint8Array(raw) };
  if (text.length < 32)
    throw new WeirError(
      "USAGE",
      "WEIR_SECRET_KEY must be 32 bytes in base64 or a passphrase of at least 32 characters (make one with: openssl rand -base64 32)",
    );
  return { id: "env", key: new Uint8Array(new Bun.CryptoHasher("sha256").update(text).digest()) };
}
