// The two backends every store test runs on: an embedded file (always), and PostgreSQL when its
// server binaries are installed (.ci/run installs them; otherwise one line says it was skipped).
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "../../core/store/index.ts";
import { type PostgresServer, postgresMissing, startPostgres } from "../e2e/postgres.ts";

export type TestStore = Store & { dispose(): Promise<void> };

export interface Backend {
  name: "sqlite" | "postgres";
  /** A fresh, migrated, empty store. */
  open(): Promise<TestStore>;
}

export const sqlite: Backend = {
  name: "sqlite",
  async open() {
    const dir = mkdtempSync(join(tmpdir(), "weir-store-"));
    const store = await openStore({ url: join(dir, "weir.db") });
    return Object.assign(store, {
      async dispose() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  },
};

export const pgMissing = postgresMissing();

/**
 * PostgreSQL: one server per test file (started on first use, stopped after the file), a new
 * database per store.
 */
export function postgres(): Backend {
  let server: Promise<PostgresServer> | null = null;
  let n = 0;
  afterAll(async () => {
    if (server) await (await server).dispose();
  });
  return {
    name: "postgres",
    async open() {
      server ??= startPostgres();
      const url = await (await server).createDatabase(`t${++n}_${process.pid}`);
      const store = await openStore({ url, poolSize: 4 });
      return Object.assign(store, { dispose: () => store.close() });
    },
  };
}

/** The backends to run a suite on here, saying once why PostgreSQL is left out when it is. */
export function backends(): Backend[] {
  if (pgMissing) {
    console.log(`PostgreSQL store tests skipped: ${pgMissing}`);
    return [sqlite];
  }
  return [sqlite, postgres()];
}
