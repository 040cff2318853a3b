// The command line: every command group, loaded only when asked for, and the mapping of errors to
// exit codes. main.ts loads this for every command but the one agents start per flow run.
import { Command, CommanderError } from "@commander-js/extra-typings";
import pkg from "../package.json" with { type: "json" };

type Register = (program: Command) => void;
const GROUPS: Record<string, { description: string; load: () => Promise<{ register: Register }> }> = {
  server: {
    description: "Run the API, web UI and services (optionally with a built-in agent)",
    load: () => import("./server.ts"),
  },
  agent: { description: "Poll a work pool and start its flow runs", load: () => import("./agent.ts") },
  scheduler: { description: "Run the scheduler service alone", load: () => import("./scheduler.ts") },
  init: {
    description: "Write a weir.yaml for this folder from a recipe",
    load: () => import("./init.ts"),
  },
  deploy: {
    description: "Create or update deployments from weir.yaml",
    load: () => import("./deploy.ts"),
  },
  deployment: {
    description: "List, inspect, run and delete deployments",
    load: () => import("./deployment.ts"),
  },
  "flow-run": {
    description: "List, inspect, follow and cancel flow runs",
    load: () => import("./flow-run.ts"),
  },
  run: { description: "Run a flow from a file now, in this process", load: () => import("./run.ts") },
  schedule: { description: "Preview a schedule's next run times", load: () => import("./schedule.ts") },
  block: {
    description: "Manage blocks (typed configuration and credentials)",
    load: () => import("./block.ts"),
  },
  variable: { description: "Manage variables", load: () => import("./variable.ts") },
  "work-pool": { description: "Manage work pools", load: () => import("./work-pool.ts") },
  "work-queue": { description: "Manage work queues of a pool", load: () => import("./work-queue.ts") },
  "concurrency-limit": {
    description: "Limit active flow runs by tag",
    load: () => import("./concurrency-limit.ts"),
  },
  token: {
    description: "Manage API tokens for agents, CI and people (servers with --auth)",
    load: () => import("./token.ts"),
  },
  "secret-key": {
    description: "Rotate the key secret block fields are sealed with",
    load: () => import("./secret-key.ts"),
  },
  execute: { description: "Run one flow run (started by agents)", load: () => import("./execute.ts") },
  db: {
    description: "Migrate a database, or move one to another (SQLite ⇄ PostgreSQL)",
    load: () => import("./db.ts"),
  },
  image: {
    description: "Build the Weir runtime image for docker work pools",
    load: () => import("./image.ts"),
  },
  "install-deps": {
    description: "Install a flow project's dependencies with the binary's own package manager",
    load: () => import("./install-deps.ts"),
  },
  types: {
    description: 'Write type declarations for "weir" and "valibot" into a flow project',
    load: () => import("./types.ts"),
  },
  completion: {
    description: "Print a shell completion script (bash, zsh, fish)",
    load: () => import("./completion.ts"),
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

export async function runProgram(rawArgv: string[]): Promise<number> {
  const argv = rawArgv.map((a) => LEGACY_FLAGS[a] ?? a);
  const program = buildProgram();
  if (argv[0] === "help" && argv[1] && !Object.hasOwn(GROUPS, argv[1])) {
    const { didYouMean } = await import("../core/model/index.ts");
    const near = didYouMean(argv[1], Object.keys(GROUPS));
    console.error(
      `weir: unknown command '${argv[1]}'${near ? ` (did you mean ${near}?)` : ""} (see: weir --help)`,
    );
    return 2;
  }
  // `weir help GROUP` is `weir GROUP --help`: the group's commands must be loaded to be listed.
  const group =
    argv[0] === "help" && argv[1] && Object.hasOwn(GROUPS, argv[1])
      ? argv[1]
      : argv.find((a) => !a.startsWith("-"));
  if (group && Object.hasOwn(GROUPS, group) && (argv[0] === group || argv[0] === "help")) {
    (await GROUPS[group]!.load()).register(program);
  } else {
    for (const [name, g] of Object.entries(GROUPS)) program.command(name).description(g.description);
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    return report(err, commandPath(program, argv));
  }
}

/** The words of the deepest command the arguments name (never an option's value or a typo). */
function commandPath(program: Command, argv: string[]): string[] {
  const path: string[] = [];
  let at: Command = program as unknown as Command;
  for (const word of argv) {
    if (word.startsWith("-")) continue;
    const sub = at.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) break;
    path.push(sub.name());
    at = sub as unknown as Command;
  }
  return path;
}

/** Prints an error as one line and gives the exit code; `path` is the command it came from. */
export function report(err: unknown, path?: string[]): number {
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
    const known =
      path ??
      (Object.hasOwn(GROUPS, words[0] ?? "")
        ? words.slice(0, err.code === "commander.unknownCommand" ? 1 : 2)
        : []);
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
  // A file or folder the command was given that is not as it should be: said plainly, with the
  // path, not as a bug to report.
  const fsProblem = fileProblem(err);
  if (fsProblem) {
    console.error(`weir: ${fsProblem}`);
    return 1;
  }
  console.error(`weir: unexpected error: ${e?.message ?? String(err)}`);
  if (process.env.WEIR_DEBUG) console.error(e?.stack);
  else console.error("weir: set WEIR_DEBUG=1 to see the stack trace, and please report it");
  return 1;
}

/** What a failed file-system call means for the path it names, or null for another error. */
function fileProblem(err: unknown): string | null {
  const e = err as { code?: string; path?: string; syscall?: string; dest?: string };
  const what: Record<string, string> = {
    ENOENT: "there is no such file or folder (or its folder does not exist)",
    EISDIR: "it is a folder, where a file was expected",
    ENOTDIR: "a part of the path is a file, where a folder was expected",
    EACCES: "permission denied",
    EPERM: "the operation is not permitted",
    EROFS: "the file system is read-only",
    ENOSPC: "the disk is full",
    EEXIST: "it exists already",
  };
  if (!e?.code || !what[e.code] || typeof e.path !== "string") return null;
  // A temporary file (x.partial-123) is named as the file it stands for.
  const path = e.path.replace(/\.partial-\d+$/, "");
  return `cannot use ${path}: ${what[e.code]}`;
}
