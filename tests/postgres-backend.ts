// Preloaded by `bun test` when the suites run on PostgreSQL (scripts/test.ts): one server for the
// whole run; tempStore() and the e2e harness give each store and each `weir server` a database
// of its own on it. The server stops with the test process.
import type { PostgresServer } from "./e2e/postgres.ts";
import { startPostgres } from "./e2e/postgres.ts";

let server: PostgresServer | null = null;
let n = 0;

if (process.env.WEIR_TEST_BACKEND === "postgres") server = await startPostgres();

/** A new empty database's URL on the shared server, or null when the suites run on SQLite. */
export async function testDatabase(): Promise<string | null> {
  if (process.env.WEIR_TEST_BACKEND !== "postgres") return null;
  if (!server)
    throw new Error("WEIR_TEST_BACKEND=postgres needs bun test --preload ./tests/postgres-backend.ts");
  return server.createDatabase(`e${++n}_${process.pid}`);
}
