#!/usr/bin/env bun
// Entry point: parse argv, load only the command group asked for, map errors to exit codes.
// Exit codes: 0 success, 1 failure, 2 usage error. Nothing else in Weir calls process.exit with a
// code of its own choosing.
import { Command, CommanderError } from "@commander-js/extra-typings";
import { setSdkHost } from "./core/sdk/host.ts";
import pkg from "./package.json" with { type: "json" };

type Register = (program: Command) => void;
const GROUPS: Record<string, { description: string; load: () => Promise<{ register: Register }> }> = {
  server: {
    description: "Run the API, web UI and services (optionally with a built-in agent)",
    load: () => import("./cmd/server.ts"),
  },
  agent: { description: "Poll a work pool and start its flow runs", load: () => import("./cmd/agent.ts") },
  scheduler: { description: "Run the scheduler service alone", load: () => import("./cmd/scheduler.ts") },
  init: {
    description: "Write a weir.yaml for this folder from a recipe",
    load: () => import("./cmd/init.ts"),
  },
  deploy: {
    description: "Create or update deployments from weir.yaml",
    load: () => import("./cmd/deploy.ts"),
  },
  deployment: {
    description: "List, inspect, run and delete deployments",
    load: () => import("./cmd/deployment.ts"),
  },
  "flow-run": {
    description: "List, inspect, follow and cancel flow runs",
    load: () => import("./cmd/flow-run.ts"),
  },
  run: { description: "Run a flow from a file now, in this process", load: () => import("./cmd/run.ts") },
  schedule: { description: "Preview a schedule's next run times", load: () => import("./cmd/schedule.ts") },
  block: {
    description: "Manage blocks (typed configuration and credentials)",
    load: () => import("./cmd/block.ts"),
  },
  variable: { description: "Manage variables", load: () => import("./cmd/variable.ts") },
  "work-pool": { description: "Manage work pools", load: () => import("./cmd/work-pool.ts") },
  "work-queue": { description: "Manage work queues of a pool", load: () => import("./cmd/work-queue.ts") },
  "concurrency-limit": {
    description: "Limit active flow runs by tag",
    load: () => import("./cmd/concurrency-limit.ts"),
  },
  token: {
    description: "Manage API tokens for agents, CI and people (servers with --auth)",
    load: () => import("./cmd/token.ts"),
  },
  "secret-key": {
    description: "Rotate the key secret block fields are sealed with",
    load: () => import("./cmd/secret-key.ts"),
  },
  execute: { description: "Run one flow run (started by agents)", load: () => import("./cmd/execute.ts") },
  db: {
    description: "Migrate a database, or move one to another (SQLite ⇄ PostgreSQL)",
    load: () => import("./cmd/db.ts"),
  },
  image: {
    description: "Build the Weir runtime image for docker work pools",
    load: () => import("./cmd/image.ts"),
  },
  "install-deps": {
    description: "Install a flow project's dependencies with the binary's own package manager",
    load: () => import("./cmd/install-deps.ts"),
  },
  types: {
    description: 'Write type declarations for "weir" and "valibot" into a flow project',
    load: () => import("./cmd/types.ts"),
  },
  completion: {
    description: "Print a shell completion script (bash, zsh, fish)",
    load: () => import("./cmd/completion.ts"),
  },
};

export function buildProgram(): Command {
  return (
    new Command("weir")
      .description("Weir: a workflow orchestrator for TypeScript, in one binary")
      .version(pkg.version, "-V, --version")
      // Program options count only before the command: `weir deploy --version v9` is the
      // deployment's version, not Weir's.
      .enablePositionalOptions()
      .showSuggestionAfterError(true)
      .exitOverride()
      .configureOutput({ outputError: () => {} })
  );
}

/** Registers every group (completion scripts need the whole tree). */
export async function fullProgram(): Promise<Command> {
  const program = buildProgram();
  for (const g of Object.values(GROUPS)) (await g.load()).register(program);
  return program;
}

/** Prefect's two-letter short flags (`-ib`, `-sb`), which commander cannot declare, as long ones. */
const LEGACY_FLAGS: Record<string, string> = { "-ib": "--ib", "-sb": "--sb" };

async function main(rawArgv: string[]): Promise<number> {
  // deploy() and serve() in flow code and scripts reach this build's plugins through the host.
  setSdkHost({ registry: async () => (await import("./cmd/lib/registry.ts")).registry() });
  const argv = rawArgv.map((a) => LEGACY_FLAGS[a] ?? a);
  const program = buildProgram();
  const group = argv.find((a) => !a.startsWith("-"));
  if (group && Object.hasOwn(GROUPS, group) && argv[0] === group) {
    (await GROUPS[group]!.load()).register(program);
  } else {
    for (const [name, g] of Object.entries(GROUPS)) program.command(name).description(g.description);
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    return report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    if (
      err.code === "commander.helpDisplayed" ||
      err.code === "commander.version" ||
      err.code === "commander.help"
    )
      return 0;
    if (err.code === "commander.executeSubCommandAsync") return 0;
    // Point to the help of the deepest command that exists (never to a mistyped one).
    const words = process.argv.slice(2).filter((a) => !a.startsWith("-"));
    const known = Object.hasOwn(GROUPS, words[0] ?? "")
      ? words.slice(0, err.code === "commander.unknownCommand" ? 1 : 2)
      : [];
    console.error(
      `weir: ${err.message.replace(/^error: /, "")} (see: weir ${[...known, "--help"].join(" ")})`,
    );
    return 2;
  }
  const e = err as { name?: string; code?: string; message?: string; stack?: string };
  if (e?.name === "WeirError") {
    console.error(`weir: ${e.message}`);
    return e.code === "USAGE" ? 2 : 1;
  }
  console.error(`weir: unexpected error: ${e?.message ?? String(err)}`);
  if (process.env.WEIR_DEBUG) console.error(e?.stack);
  else console.error("weir: set WEIR_DEBUG=1 to see the stack trace, and please report it");
  return 1;
}

/**
 * Resolves once everything written to the stream has reached the reader. Writes to a pipe are
 * asynchronous, and process.exit() would drop what is still queued (JSON cut at 64 KiB).
 */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once("error", () => resolve()); // the reader went away (EPIPE): nothing left to deliver
    stream.end(() => resolve());
  });
}

// Started here, not with top-level await: the entry was built as CommonJS with bytecode until the
// build moved to ES module chunks (scripts/build.ts), and has not been checked with one since.
if (import.meta.main) {
  void main(process.argv.slice(2))
    .then(async (code) => {
      await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
      return code;
    })
    .then((code) => process.exit(code));
}
