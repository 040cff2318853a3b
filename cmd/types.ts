import type { Command } from "@commander-js/extra-typings";

export function register(program: Command): void {
  program
    .command("types")
    .description('Write type declarations for "weir" and "valibot" so editors type-check flows')
    .option("--out <dir>", "where to write them", ".weir/types")
    .action(async (opts) => {
      const { writeTypes } = await import("./lib/write-types.ts");
      await writeTypes(opts.out);
    });
}
