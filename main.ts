#!/usr/bin/env bun
// Entry point: run the command asked for and exit with its code. Exit codes: 0 success, 1 failure,
// 2 usage error. Nothing else in Weir calls process.exit with a code of its own choosing.
import { setSdkHost } from "./core/sdk/host.ts";

async function main(argv: string[]): Promise<number> {
  // deploy() and serve() in flow code and scripts reach this build's plugins through the host.
  setSdkHost({ registry: async () => (await import("./cmd/lib/registry.ts")).registry() });
  // Agents start `weir execute` for every flow run, so its usual forms skip the command line
  // parser: loading commander is ~10 ms of an executor's start (see docs/decisions.md).
  if (argv[0] === "execute") {
    const { leanArgs, execute } = await import("./cmd/execute.ts");
    const args = leanArgs(argv.slice(1));
    if (args)
      return execute(args.id, args.warm).then(
        () => Number(process.exitCode ?? 0),
        async (err) => (await import("./cmd/program.ts")).report(err),
      );
  }
  return (await import("./cmd/program.ts")).runProgram(argv);
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
