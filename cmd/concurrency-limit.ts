import type { Command } from "@commander-js/extra-typings";
import { client, nonNegativeInt } from "./lib/options.ts";
import { printJson, printTable } from "./lib/output.ts";

// Prefect's `prefect concurrency-limit` (tag limits), applied to flow runs carrying the tag.
export function register(program: Command): void {
  const cmd = program
    .command("concurrency-limit")
    .description("Limit how many flow runs carrying a tag are active at once");

  cmd
    .command("create")
    .description("Create (or change) a tag's limit")
    .argument("<tag>", "runs carrying this tag count against the limit")
    .argument("<limit>", "most such runs pending or running at once", nonNegativeInt("<limit>"))
    .action(async (tag, limit) => {
      const l = await client().setConcurrencyLimit(tag, limit);
      console.log(`Tag "${l.tag}": at most ${l.limit} active flow run(s); ${l.active} active now`);
    });

  cmd
    .command("ls")
    .alias("list")
    .description("List tag limits with their active runs")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const all = await client().listConcurrencyLimits();
      if (opts.json) return printJson(all);
      printTable(
        ["TAG", "LIMIT", "ACTIVE"],
        all.map((l) => [l.tag, String(l.limit), String(l.active)]),
      );
    });

  cmd
    .command("inspect")
    .description("Show a tag's limit")
    .argument("<tag>", "tag")
    .option("--json", "print JSON")
    .action(async (tag, opts) => {
      const l = await client().getConcurrencyLimit(tag);
      if (opts.json) return printJson(l);
      console.log(`Tag "${l.tag}": at most ${l.limit} active flow run(s); ${l.active} active now`);
    });

  cmd
    .command("delete")
    .description("Remove a tag's limit")
    .argument("<tag>", "tag")
    .action(async (tag) => {
      await client().deleteConcurrencyLimit(tag);
      console.log(`Removed the limit of tag "${tag}"`);
    });
}
