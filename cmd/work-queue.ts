import type { Command } from "@commander-js/extra-typings";
import { client, positiveInt } from "./lib/options.ts";
import { printJson, printTable } from "./lib/output.ts";

export function register(program: Command): void {
  const cmd = program.command("work-queue").description("Manage work queues of a pool");

  cmd
    .command("create")
    .description("Create a queue in a work pool")
    .argument("<name>", "queue name")
    .requiredOption("-p, --pool <pool>", "work pool")
    .option("--priority <n>", "lower runs first", positiveInt("--priority"))
    .action(async (name, opts) => {
      const q = await client().createWorkQueue(opts.pool, name, opts.priority);
      console.log(`Created work queue "${q.name}" in pool "${opts.pool}"`);
    });

  cmd
    .command("ls")
    .alias("list")
    .description("List the queues of a work pool")
    .requiredOption("-p, --pool <pool>", "work pool")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const pool = await client().getWorkPool(opts.pool);
      if (opts.json) return printJson(pool.queues);
      printTable(
        ["NAME", "PRIORITY", "PAUSED", "ID"],
        pool.queues.map((q) => [q.name, String(q.priority), q.is_paused ? "yes" : "no", q.id]),
      );
    });
}
