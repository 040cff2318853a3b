import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type Client, createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import { WeirError } from "../model/errors.ts";
import { workerModule } from "../model/paths.ts";
import { bunSqliteClient } from "./bun-sqlite-client.ts";
import { migrate } from "./migrate.ts";
import * as schema from "./schema.ts";
import { serializeClient } from "./serialize-client.ts";
import { bindStore, type Store } from "./store.ts";

const SCHEMES = /^(file|libsql|https?|wss?|postgres|postgresql):/;

/** `file:` URL for a plain path; postgres:, libsql:, http(s):, ws(s): and file: URLs pass through. */
export function databaseUrl(pathOrUrl: string): string {
  if (SCHEMES.test(pathOrUrl)) return pathOrUrl;
  return `file:${resolve(pathOrUrl)}`;
}

/**
 * A database address that is neither a URL Weir opens nor a plain path: a mistyped scheme, a
 * libpq key=value string, a value with spaces around it. It would become a database file named
 * after it (password and all), so it is refused, shown without its secrets.
 */
function checkAddress(url: string): void {
  const shown = redactUrl(url);
  const fix = "(check --db / WEIR_DATABASE_URL)";
  if (url.trim() === "") throw new WeirError("INVALID", `The database address is empty ${fix}`);
  if (/^(postgres|postgresql|libsql|https?|wss?):(?!\/\/)/i.test(url))
    throw new WeirError(
      "INVALID",
      `The database address ${shown} has a scheme without "//": write it as postgres://USER:PASSWORD@HOST:PORT/DB (or libsql://, https://) ${fix}`,
    );
  if (!url.includes("://") && /^[^/\s:@]+(:[^@\s]*)?@[^/\s@]+/.test(url))
    throw new WeirError(
      "INVALID",
      `The database address ${shown} looks like a PostgreSQL address without its scheme: write it as postgres://USER:PASSWORD@HOST:PORT/DB ${fix}`,
    );
  if (url !== url.trim())
    throw new WeirError(
      "INVALID",
      `The database address "${shown}" has spaces around it: remove them ${fix}`,
    );
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme && scheme !== scheme.toLowerCase())
    throw new WeirError(
      "INVALID",
      `The database address ${shown} starts with "${scheme}://": write the scheme in lower case (${scheme.toLowerCase()}://) ${fix}`,
    );
  if (scheme && !SCHEMES.test(`${scheme.toLowerCase()}:`))
    throw new WeirError(
      "INVALID",
      `The database address ${shown} starts with "${scheme}://", which Weir does not open: use postgres://USER:PASSWORD@HOST:PORT/DB, a libsql:// or https:// URL, or a file path ${fix}`,
    );
  if (
    /^\s*\w+=\S*(\s+\w+=\S*)+\s*$/.test(url) ||
    /^(host|hostaddr|port|dbname|user|password|sslmode)=/i.test(url)
  )
    throw new WeirError(
      "INVALID",
      `The database address looks like a libpq key=value string, which Weir does not read: give it as postgres://USER:PASSWORD@HOST:PORT/DB (percent-encode a password's @ / ? # + as %40 %2F %3F %23 %2B) ${fix}`,
    );
}

export interface OpenStoreOptions {
  /** A path or URL; see databaseUrl(). */
  url: string;
  authToken?: string;
  /** Most connections to a PostgreSQL database (WEIR_DATABASE_POOL_SIZE). */
  poolSize?: number;
  /** Apply pending migrations (servers do; short-lived readers need not). */
  migrate?: boolean;
  /**
   * An embedded file's write-ahead log is checkpointed by a thread of its own every this many
   * milliseconds, not inside the commits of the process's requests (long-lived processes: the
   * server). Commits still checkpoint once the log passes 10,000 pages, should the thread stall.
   */
  backgroundCheckpointMs?: number;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  checkAddress(options.url);
  if (/^postgres(ql)?:\/\//.test(options.url)) {
    const { openPostgres } = await import("./postgres/open.ts");
    try {
      return await openPostgres({ url: options.url, poolSize: options.poolSize, migrate: options.migrate });
    } catch (cause) {
      if (cause instanceof WeirError) throw cause; // said already (a database newer than this build)
      throw new WeirError(
        "UNREACHABLE",
        `Cannot open the database at ${redactUrl(options.url)}: ${(cause as Error).message}${
          /invalid url/i.test((cause as Error).message)
            ? " (a password's @ / ? # + must be percent-encoded: %40 %2F %3F %23 %2B)"
            : ""
        } (check --db / WEIR_DATABASE_URL)`,
        { cause },
      );
    }
  }
  const url = databaseUrl(options.url);
  const isFile = url.startsWith("file:");
  const path = isFile ? filePath(url) : "";
  if (isFile) privateFile(path);
  let client: Client;
  try {
    client = isFile
      ? serializeClient(bunSqliteClient(path, { busyTimeoutMs: 10_000 }))
      : createClient({ url, authToken: options.authToken, timeout: 10_000, concurrency: 8 });
    if (isFile) {
      // WAL lets readers (UI, CLI) proceed while the agent's claims write.
      await client.execute("PRAGMA journal_mode=WAL");
      await client.execute("PRAGMA synchronous=NORMAL");
      if (options.backgroundCheckpointMs) {
        await client.execute("PRAGMA wal_autocheckpoint=10000");
        // A burst between two checkpoints can leave a long log behind: cut back once reused.
        await client.execute("PRAGMA journal_size_limit=4194304");
      }
    }
    if (options.migrate !== false) await migrate(client);
  } catch (cause) {
    if (cause instanceof WeirError) throw cause; // said already (a database newer than this build)
    throw new WeirError(
      "UNREACHABLE",
      `Cannot open the database at ${redactUrl(url)}: ${(cause as Error).message} (check --db / WEIR_DATABASE_URL)`,
      { cause },
    );
  }
  const db = drizzle(client, { schema });
  const checkpoints =
    isFile && options.backgroundCheckpointMs ? checkpointThread(path, options.backgroundCheckpointMs) : null;
  return bindStore(
    { db, t: schema, dialect: "sqlite" },
    {
      url,
      migrate: () => migrate(client),
      close: async () => {
        checkpoints?.close();
        client.close();
      },
    },
  );
}

/**
 * Starts the checkpointing thread (core/store/checkpoint-worker.ts) on `path`. It never keeps the
 * process alive; `close()` stops it.
 */
function checkpointThread(path: string, everyMs: number): { close(): void } {
  const worker = new Worker(
    workerModule("core/store/checkpoint-worker", new URL("./checkpoint-worker.ts", import.meta.url)),
  );
  worker.unref();
  worker.postMessage({ path, everyMs });
  return {
    close() {
      worker.postMessage("close");
      worker.terminate();
    },
  };
}

/** The path of a `file:` URL (`file:/a/b`, `file:///a/b`, `file:rel`), without a query string. */
export function filePath(url: string): string {
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
  // The user part runs from the scheme to the last @ (a password may hold @ / ? # unencoded, and
  // a mistyped address may lack "//"); the query may carry a password or a token of its own.
  const at = url.lastIndexOf("@");
  const hidden =
    at > 0 && !url.startsWith("/")
      ? `${/^\s*[a-z][a-z0-9+.-]*:(\/\/)?/i.exec(url)?.[0] ?? ""}***${url.slice(at)}`
      : url;
  return hidden.replace(/((?:^|[?&;\s])(?:password|sslpassword|authToken|token)=)[^&\s]*/gi, "$1***");
}

/**
 * The embedded database holds every run's parameters, logs and results: readable by its owner
 * only. A new file (and a new folder for it) is made so; an existing one readable by others is
 * made private, with its WAL and shared-memory files (SQLite gives those the database's mode).
 */
function privateFile(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    } catch {
      // absent (no WAL yet), or not ours to change: SQLite says so when it opens it
    }
  }
}
