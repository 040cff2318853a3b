import type { Command } from "@commander-js/extra-typings";
import { WeirError } from "../core/model/index.ts";
import { client, limitOption, nonNegativeInt, positiveInt } from "./lib/options.ts";
import { printJson, printTable } from "./lib/output.ts";

const limitText = (n: number | null) => (n === null ? "-" : String(n));

export function register(program: Command): void {
  const cmd = program.command("work-queue").description("Manage work queues of a pool");

  cmd
    .command("create")
    .description("Create a queue in a work pool")
    .argument("<name>", "queue name")
    .requiredOption("-p, --pool <pool>", "work pool")
    .option(
      "--priority <n>",
      "lower is served first (queues after it move down)",
      positiveInt("--priority", 1_000_000),
    )
    .option("--limit <n>", "most runs of the queue pending or running at once", nonNegativeInt("--limit"))
    .option("--description <text>", "description")
    .action(async (name, opts) => {
      const c = client();
      const q = await c.createWorkQueue(opts.pool, name, {
        priority: opts.priority,
        concurrency_limit: opts.limit,
        description: opts.description,
      });
      // Prefect's rule gives a queue without --priority the first free number, which may put it
      // ahead of queues that were there before: said, so it is no surprise.
      const behind =
        opts.priority === undefined
          ? (await c.getWorkPool(opts.pool)).queues.filter((x) => x.priority > q.priority)
          : [];
      console.log(
        `Created work queue "${q.name}" in pool "${opts.pool}" (priority ${q.priority}, limit ${limitText(q.concurrency_limit)})${behind.length ? `; it is served before ${behind.map((x) => `"${x.name}" (${x.priority})`).join(", ")}: give --priority N to place it elsewhere` : ""}`,
      );
    });

  cmd
    .command("update")
    .description("Change a queue's priority, concurrency limit or description")
    .argument("<name>", "queue name")
    .requiredOption("-p, --pool <pool>", "work pool")
    .option(
      "--priority <n>",
      "lower is served first (queues after it move down)",
      positiveInt("--priority", 1_000_000),
    )
    .option("--limit <n>", "most runs of the queue pending or running at once", nonNegativeInt("--limit"))
    .option("--no-limit", "remove the queue's concurrency limit")
    .option("--description <text>", "description")
    .action(async (name, opts) => {
      const limit = limitOption(opts.limit);
      if (opts.priority === undefined && limit === undefined && opts.description === undefined)
        throw new WeirError(
          "USAGE",
          "nothing to change: give --priority, --limit, --no-limit or --description",
        );
      const q = await client().updateWorkQueue(opts.pool, name, {
        priority: opts.priority,
        concurrency_limit: limit,
        description: opts.description,
      });
      console.log(
        `Updated work queue "${q.name}" in pool "${opts.pool}" (priority ${q.priority}, limit ${limitText(q.concurrency_limit)})`,
      );
    });

  for (const [verb, paused] of [
    ["pause", true],
    ["resume", false],
  ] as const) {
    cmd
      .command(verb)
      .description(paused ? "Pause a queue: agents take none of its runs" : "Resume a paused queue")
      .argument("<name>", "queue name")
      .requiredOption("-p, --pool <pool>", "work pool")
      .action(async (name, opts) => {
        const q = await client().updateWorkQueue(opts.pool, name, { is_paused: paused });
        console.log(`${paused ? "Paused" : "Resumed"} work queue "${q.name}" in pool "${opts.pool}"`);
      });
  }

  cmd
    .command("delete")
    .description(
      'Delete a queue (runs naming it are still served, after the pool\'s queues; "default" stays)',
    )
    .argument("<name>", "queue name")
    .requiredOption("-p, --pool <pool>", "work pool")
    .action(async (name, opts) => {
      await client().deleteWorkQueue(opts.pool, name);
      console.log(`Deleted work queue "${name}" from pool "${opts.pool}"`);
    });

  cmd
    .command("ls")
    .alias("list")
    .description("List the queues of a work pool, in the order they are served")
    .requiredOption("-p, --pool <pool>", "work pool")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const pool = await client().getWorkPool(opts.pool);
      if (opts.json) return printJson(pool.queues);
      printTable(
        ["NAME", "PRIORITY", "LIMIT", "PAUSED", "ID"],
        pool.queues.map((q) => [
          q.name,
          String(q.priority),
          limitText(q.concurrency_limit),
          q.is_paused ? "yes" : "no",
          q.id,
        ]),
      );
    });
}
