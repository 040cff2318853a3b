import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, Wakeups } from "../core/api/index.ts";
import { WeirClient } from "../core/client/index.ts";
import { DEFAULT_LIMITS, type Limits } from "../core/config/index.ts";
import { createRegistry } from "../core/steps/index.ts";
import { openStore, type Store } from "../core/store/index.ts";
import { PLUGINS } from "../plugins/index.ts";
import { testDatabase } from "./postgres-backend.ts";

/** The registry the binary builds: Weir's built-in steps and block types, and every plugin. */
export const registry = createRegistry(PLUGINS);

export function tempDir(prefix = "weir-test-"): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** A real store on a real database file in a temp dir. */
export async function tempStore(): Promise<Store & { dir: string; dispose(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "weir-store-"));
  // On PostgreSQL when the suites run there (scripts/test.ts), else a file.
  const url = (await testDatabase()) ?? join(dir, "weir.db");
  const store = await openStore({ url, poolSize: 4 });
  return {
    ...store,
    dir,
    dispose() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The API served over real HTTP on a free loopback port, with a client pointed at it. */
/** `limits`: the server's request limits where they differ from the defaults. */
export async function startApi(opts: { limits?: Partial<Limits> } = {}) {
  const store = await tempStore();
  const wakeups = new Wakeups();
  const limits = opts.limits ? { ...DEFAULT_LIMITS, ...opts.limits } : undefined;
  const app = createApp({ store, wakeups, version: "test", registry, limits });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, idleTimeout: 120 });
  const url = `http://127.0.0.1:${server.port}/api`;
  return {
    app,
    store,
    wakeups,
    url,
    client: new WeirClient(url),
    async stop() {
      await server.stop(true);
      store.dispose();
    },
  };
}

/** A JSON request to an app in this process: its status and parsed body. */
export async function callApp(
  app: { request(path: string, init: RequestInit): Response | Promise<Response> },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await app.request(path, {
    method,
    headers: method === "GET" ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any, headers: res.headers };
}

/** An auto-scheduled run row as a scheduler pass inserts it (store.insertScheduledRuns). */
export function scheduledRunRow(o: {
  deploymentId: string;
  flowId: string;
  scheduleId: string;
  /** Its scheduled start (ISO 8601). */
  time: string;
  name: string;
  id?: string;
  idempotencyKey?: string;
  /** When it was made (default now). */
  created?: string;
}) {
  const at = o.created ?? new Date().toISOString();
  return {
    id: o.id ?? crypto.randomUUID(),
    created: at,
    updated: at,
    name: o.name,
    flowId: o.flowId,
    deploymentId: o.deploymentId,
    workPoolName: "local",
    workQueueName: "default",
    parameters: {},
    jobVariables: {},
    tags: [],
    stateType: "SCHEDULED",
    stateName: "Scheduled",
    stateTimestamp: at,
    expectedStartTime: o.time,
    nextScheduledStartTime: o.time,
    autoScheduled: true,
    scheduleId: o.scheduleId,
    idempotencyKey: o.idempotencyKey ?? `${o.deploymentId}:${o.scheduleId}:${o.time}:${o.name}`,
    runCount: 0,
    totalRunTime: 0,
  };
}
