import { readFileSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { Agent } from "../../core/agent/index.ts";
import { createApp, databaseDown, Wakeups } from "../../core/api/index.ts";
import { SecretBox, type TokenSource } from "../../core/auth/index.ts";
import { WeirClient } from "../../core/client/index.ts";
import { loadConfig } from "../../core/config/index.ts";
import { selfCommand } from "../../core/infra/index.ts";
import { describeError, WeirError } from "../../core/model/index.ts";
import { Scheduler } from "../../core/scheduler/index.ts";
import { DateExpander } from "../../core/schedules/index.ts";
import { openStore, redactUrl, SERVER_SEEN_MS } from "../../core/store/index.ts";
import pkg from "../../package.json" with { type: "json" };
import { uiRoutes } from "../../ui/index.ts";
import { stamped } from "./output.ts";
import { registry } from "./registry.ts";
import { loadKeys, unopenableSecrets } from "./secret-key.ts";
import { isLoopbackHost, serverAuth } from "./server-auth.ts";
import { untilSignal } from "./signals.ts";

/** The LISTEN/NOTIFY channel on which servers tell each other which pool has new work. */
const WAKEUP_CHANNEL = "weir_wakeups";

export interface ServerOptions {
  host: string;
  port: number;
  db: string;
  agentPool?: string;
  queues: string[];
  limit: number;
  /** With agentPool: folders its runs may work in (`--allow-dir`; default the current one). */
  allowDirs?: string[];
  /** Run the scheduler loop in this process (default true). */
  scheduler?: boolean;
  /** Require API tokens (always for a non-loopback host). */
  auth?: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

export async function startServer(o: ServerOptions): Promise<void> {
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw new WeirError("USAGE", `--port must be a port number from 0 to 65535 (got "${o.port}")`);
  }
  if (!o.tlsCert !== !o.tlsKey)
    throw new WeirError(
      "USAGE",
      "--tls-cert and --tls-key go together (the certificate and its private key)",
    );
  const tls =
    o.tlsCert && o.tlsKey
      ? { cert: readPem(o.tlsCert, "--tls-cert"), key: readPem(o.tlsKey, "--tls-key") }
      : null;
  const config = loadConfig();
  // Refused before the database is opened: a server on another address must have auth on.
  const startLines: string[] = [];
  const authCheck = (tokens: TokenSource) =>
    serverAuth({ host: o.host, auth: o.auth ?? false }, tokens, (l) => startLines.push(l));
  if (!o.auth && !isLoopbackHost(o.host)) authCheck({ findTokenByHash: async () => undefined });
  const store = await openStore({
    url: o.db,
    authToken: process.env.WEIR_DATABASE_AUTH_TOKEN,
    poolSize: config.databasePoolSize,
    backgroundCheckpointMs: 250,
  });
  // Time-boxed date computers, one for the scheduler and one for the API's checks of new
  // schedules (which takes a few at a time), so no client's slow rules can hold up the scheduler.
  const scheduler = new Scheduler(
    store,
    config.scheduler,
    (m) => console.log(stamped(m)),
    undefined,
    new DateExpander(config.limits.scheduleTimeBoxMs),
  );
  const expander = new DateExpander(config.limits.scheduleTimeBoxMs, 4);
  // Changed deployments are scheduled at once, even when the loop runs in `weir scheduler`.
  const wakeups = new Wakeups();
  // Servers sharing a PostgreSQL database tell each other of new and cancelled runs, so a run
  // created through one reaches an agent waiting on another at once.
  // While the database is unreachable, background work says so once (and once when it is back)
  // instead of a line per failed attempt; requests meanwhile get 503 (see core/api/app.ts).
  let downSince: number | null = null;
  const trouble = (what: string, err: unknown) => {
    if (databaseDown(err)) {
      if (downSince === null) {
        downSince = Date.now();
        console.error(
          stamped(
            `weir server: the database cannot be reached (${firstLine(err)}); requests get 503 until it is back`,
          ),
        );
      }
      return;
    }
    console.error(stamped(`weir server: ${what}: ${firstLine(err)}`));
  };
  const reachable = () => {
    if (downSince === null) return;
    console.log(
      stamped(
        `weir server: the database is reachable again (after ${((Date.now() - downSince) / 1000).toFixed(0)} s)`,
      ),
    );
    downSince = null;
  };
  const shared = store.notifications;
  if (shared) {
    await shared.listen(WAKEUP_CHANNEL, (pool) => wakeups.receive(pool));
    wakeups.broadcast = (pool) => {
      shared.notify(WAKEUP_CHANNEL, pool).catch((err) => trouble("could not notify the other servers", err));
    };
  }
  let security: ReturnType<typeof serverAuth>;
  try {
    security = authCheck(store);
  } catch (err) {
    await store.close();
    throw err;
  }
  let sealing: ReturnType<typeof loadKeys>;
  try {
    sealing = loadKeys(true);
  } catch (err) {
    await store.close();
    throw err;
  }
  const secretBox = new SecretBox(sealing.keys);
  const unopenable = await unopenableSecrets(store, secretBox, registry()).catch(() => null);
  if (unopenable) {
    await store.close();
    // A key made just now for a database that already has one is not the installation's key.
    if (sealing.created) rmSync(sealing.source, { force: true });
    throw new WeirError(
      "INVALID",
      `This database holds secrets this server cannot open (${unopenable}): start it with the key the other servers use (the same WEIR_SECRET_KEY, or a copy of their $WEIR_HOME/secret-key)`,
    );
  }
  startLines.push(
    sealing.created
      ? `  Secrets   sealed with a new key written to ${sealing.source} (mode 600): back it up with the database`
      : `  Secrets   sealed with the key from ${sealing.source}`,
  );
  const ctx = {
    secretBox,
    auth: security.auth,
    allowedHosts: security.allowedHosts,
    tls: tls !== null,
    store,
    wakeups,
    version: pkg.version,
    limits: config.limits,
    expander,
    registry: registry(),
    scheduleNow: (ids: string[]) => scheduler.kick(ids),
    claimRecheckMs: config.claimRecheckMs,
    agentTimeoutMs: config.agentTimeoutMs,
  };
  const app = createApp(ctx, {
    extend: uiRoutes,
    // The message (cut: a failed query's text carries its parameters, which may be large) and
    // where it came from, not the source around it.
    onInternalError: (err, requestId) =>
      console.error(
        stamped(
          `weir server: internal error (request ${requestId}): ${firstLine(err)}\n${String(
            (err as Error)?.stack ?? "",
          )
            .split("\n")
            .filter((l) => /^\s+at /.test(l))
            .slice(0, 12)
            .join("\n")}`,
        ),
      ),
  });
  let server: ReturnType<typeof Bun.serve>;
  try {
    // Claims are long polls (up to 60 s), so idle connections must outlive them.
    // Bodies are limited by the API itself (a JSON 413 naming WEIR_MAX_BODY_BYTES); Bun's own
    // limit, which answers with an empty 413, sits above it.
    server = Bun.serve({
      hostname: o.host,
      port: o.port,
      ...(tls ? { tls } : {}),
      fetch: app.fetch,
      idleTimeout: 120,
      maxRequestBodySize: config.limits.maxBodyBytes * 4 + 1024 * 1024,
    });
  } catch (cause) {
    await store.close();
    const message = (cause as Error).message;
    // OpenSSL's refusals of the certificate and key are theirs, not the port's.
    if (tls && /X509|PEM|KEY_VALUES_MISMATCH|NO_START_LINE|BAD_DECRYPT|OPENSSL|SSL/i.test(message))
      throw new WeirError(
        "USAGE",
        `--tls-cert / --tls-key cannot be used: ${message}${/KEY_VALUES_MISMATCH/.test(message) ? " (the key is not the certificate's key: give the key the certificate was made with)" : /NO_START_LINE/.test(message) ? " (a file is not what its flag says: the certificate goes to --tls-cert, its key to --tls-key)" : ""}`,
        { cause },
      );
    throw new WeirError(
      "UNREACHABLE",
      `Cannot listen on ${o.host}:${o.port}: ${message} (is another server running? choose another --port)`,
      { cause },
    );
  }
  const base = `${tls ? "https" : "http"}://${o.host.includes(":") ? `[${o.host}]` : o.host}:${server.port}`;
  console.log(`Weir ${pkg.version} server listening on ${base}`);
  console.log(`  UI        ${base}/`);
  console.log(`  API       ${base}/api   (docs: ${base}/api/openapi.json)`);
  console.log(`  Database  ${redactUrl(store.url)}`);
  for (const line of startLines) console.log(line);

  // This server's presence in the database, for what must not run beside it (secret-key rotate).
  const presence = { id: crypto.randomUUID(), host: hostname(), pid: process.pid };
  const seen = () => store.serverSeen(presence).catch(() => {}); // an outage is reported by the sweep
  await seen();
  const presenceTimer = setInterval(() => void seen(), SERVER_SEEN_MS);

  // Runs of agents that died (no heartbeat for WEIR_AGENT_TIMEOUT_SECONDS) are marked CRASHED. An
  // agent is judged only once this server has been able to hear from it for a whole timeout:
  // after this server starts, and after the database comes back, heartbeats that could not arrive
  // meanwhile do not make live agents look dead.
  const agentTimeoutMs = config.agentTimeoutMs;
  let listeningSince = Date.now();
  const sweepOnce = async () => {
    if (downSince !== null) {
      await store.listAgents(undefined, { limit: 1 }); // still unreachable: throws
      reachable();
      listeningSince = Date.now();
      return;
    }
    if (Date.now() - listeningSince < agentTimeoutMs) return;
    const { crashed } = await store.sweepOrphanedRuns(new Date(Date.now() - agentTimeoutMs).toISOString());
    if (crashed)
      console.log(
        stamped(
          `Agent timeout: ${crashed} run(s) of silent agents ended (crashed, or cancelled if being cancelled)`,
        ),
      );
  };
  const sweep = setInterval(
    () => void sweepOnce().catch((err) => trouble("agent liveness sweep failed", err)),
    // Often enough that a dead agent's runs crash within a few seconds of its timeout.
    Math.max(500, Math.min(agentTimeoutMs / 10, 2_000)),
  );

  if (o.scheduler !== false) scheduler.start();

  let agent: Agent | null = null;
  if (o.agentPool) {
    agent = new Agent({
      client: new WeirClient(`${base}/api`, { apiKey: security.adminToken ?? undefined }),
      pool: o.agentPool,
      queues: o.queues,
      limit: o.limit,
      allowDirs: o.allowDirs,
      name: `server-agent-${process.pid}`,
      command: selfCommand(),
      registry: registry(),
      log: (m) => console.log(stamped(`[agent] ${m}`)),
    });
    await agent.start();
  }

  await untilSignal(async (second) => {
    if (second) {
      agent?.killAll();
      return;
    }
    console.log(
      "Shutting down: no new work is taken; waiting for running flow runs (Ctrl-C again to kill them)",
    );
    clearInterval(sweep);
    await scheduler.stop();
    await agent?.stop();
    // Force: agents hold long-poll claims open; they reconnect to the next server.
    await server.stop(true);
    clearInterval(presenceTimer);
    await store.serverGone(presence.id).catch(() => {});
    await store.close();
  });
}

function readPem(file: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new WeirError(
      "USAGE",
      `${flag} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? describeError(err)}): give the path of a PEM file (openssl can make one: see the README, "Remote agents and CI", TLS)`,
    );
  }
  if (!text.includes("-----BEGIN "))
    throw new WeirError("USAGE", `${flag} ${file} is not a PEM file (it has no "-----BEGIN" line)`);
  return text;
}

function firstLine(err: unknown): string {
  // A failed query's own first line is only "Failed query: <sql>": the database's reason is its cause.
  const cause = (err as { cause?: unknown })?.cause;
  const text = /^Failed query:/.test(describeError(err)) && cause ? describeError(cause) : describeError(err);
  return text.split("\n")[0]!.slice(0, 300);
}
