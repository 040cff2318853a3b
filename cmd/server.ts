import type { Command } from "@commander-js/extra-typings";
import { collect, collectDirs, defaultDatabase, positiveInt } from "./lib/options.ts";

export function register(program: Command): void {
  program
    .command("server")
    .description("Run the API (/api), the web UI and the services on one port")
    .option("--host <host>", "address to listen on", process.env.WEIR_SERVER_HOST ?? "127.0.0.1")
    .option("--port <port>", "port to listen on", process.env.WEIR_SERVER_PORT ?? "4200")
    .option(
      "--db <path-or-url>",
      "database file, postgres:// URL or libSQL URL (env WEIR_DATABASE_URL; default $WEIR_HOME/weir.db)",
    )
    .option("--agent <pool>", "also run an agent for this work pool inside the server")
    .option("-q, --queue <name>", "with --agent: queue to take work from (repeatable)", collect)
    .option("--limit <n>", "with --agent: most flow runs at once", positiveInt("--limit"), 10)
    .option(
      "--allow-dir <path>",
      "with --agent: a folder runs may work in besides their own temporary one (repeatable; default: the folder the server starts in)",
      collectDirs("--allow-dir"),
    )
    .option("--no-scheduler", "do not run the scheduler service here (run weir scheduler instead)")
    .option(
      "--auth",
      "require API tokens (required for a non-loopback --host, which refuses to start without it; env WEIR_AUTH=1); the first start writes an admin token to $WEIR_HOME/admin-token unless WEIR_ADMIN_TOKEN is set",
    )
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (with --tls-key)")
    .option("--tls-key <file>", "the PEM private key of --tls-cert")
    .action(async (opts, command) => {
      const { startServer } = await import("./lib/start-server.ts");
      const port = /^\d{1,5}$/.test(opts.port) ? Number(opts.port) : Number.NaN;
      if (!(port <= 65535)) {
        const { WeirError } = await import("../core/model/index.ts");
        const from = command.getOptionValueSource("port") === "cli" ? "--port" : "WEIR_SERVER_PORT";
        throw new WeirError("USAGE", `${from} must be a port number from 0 to 65535 (got "${opts.port}")`);
      }
      await startServer({
        host: opts.host,
        port,
        db: opts.db ?? defaultDatabase(),
        agentPool: opts.agent,
        queues: opts.queue ?? [],
        limit: opts.limit,
        allowDirs: opts.allowDir,
        scheduler: opts.scheduler,
        auth: opts.auth === true || process.env.WEIR_AUTH === "1" || process.env.WEIR_AUTH === "true",
        tlsCert: opts.tlsCert,
        tlsKey: opts.tlsKey,
      });
    });
}
