import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type Client, createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import { WeirError } from "../model/errors.ts";
import { bunSqliteClient } from "./bun-sqlite-client.ts";
import { migrate } from "./migrate.ts";
import * as schema from "./schema.ts";
import { serializeClient } from "./serialize-client.ts";
import { bindStore, type Store } from "./store.ts";

/** `file:` URL for a plain path; postgres:, libsql:, http(s):, ws(s): and file: URLs pass through. */
export function databaseUrl(pathOrUrl: string): string {
  if (/^(file|libsql|https?|wss?|postgres|postgresql):/.test(pathOrUrl)) return pathOrUrl;
  return `file:${resolve(pathOrUrl)}`;
}

export interface OpenStoreOptions {
  /** A path or URL; see databaseUrl(). */
  url: string;
  authToken?: string;
  /** Most connections to a PostgreSQL database (WEIR_DATABASE_POOL_SIZE). */
  poolSize?: number;
  /** Apply pending migrations (servers do; short-lived readers need not). */
  migrate?: boolean;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(options.url)) {
    const { openPostgres } = await import("./postgres/open.ts");
    try {
      return await openPostgres({ url: options.url, poolSize: options.poolSize, migrate: options.migrate });
    } catch (cause) {
      throw new WeirError(
        "UNREACHABLE",
        `Cannot open the database at ${redactUrl(options.url)}: ${(cause as Error).message} (check --db / WEIR_DATABASE_URL)`,
        { cause },
      );
    }
  }
  const url = databaseUrl(options.url);
  const isFile = url.startsWith("file:");
  const path = isFile ? filePath(url) : "";
  if (isFile) mkdirSync(dirname(path), { recursive: true });
  let client: Client;
  try {
    client = isFile
      ? serializeClient(bunSqliteClient(path, { busyTimeoutMs: 10_000 }))
      : createClient({ url, authToken: options.authToken, timeout: 10_000, concurrency: 8 });
    if (isFile) {
      // WAL lets readers (UI, CLI) proceed while the agent's claims write.
      await client.execute("PRAGMA journal_mode=WAL");
      await client.execute("PRAGMA synchronous=NORMAL");
    }
    if (options.migrate !== false) await migrate(client);
  } catch (cause) {
    throw new WeirError(
      "UNREACHABLE",
      `Cannot open the database at ${redactUrl(url)}: ${(cause as Error).message} (check --db / WEIR_DATABASE_URL)`,
      { cause },
    );
  }
  const db = drizzle(client, { schema });
  return bindStore(
    { db, t: schema, dialect: "sqlite" },
    { url, migrate: () => migrate(client), close: async () => client.close() },
  );
}

/** The path of a `file:` URL (`file:/a/b`, `file:///a/b`, `file:rel`), without a query string. */
function filePath(url: string): string {
  const rest = url.slice("file:".length).replace(/\?.*$/, "");
  const path = rest.startsWith("//") ? rest.slice(2) : rest;
  try {
    return decodeURIComponent(path);
  } catch {
    return path; // a plain path with a % in it
  }
}

/** Never print credentials embedded in a database URL. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, "//***@").replace(/(authToken|token)=[^&]+/gi, "$1=***");
}
