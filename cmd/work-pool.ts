import type { Command } from "@commander-js/extra-typings";
import { WeirError } from "../core/model/index.ts";
import { client, limitOption, nonNegativeInt } from "./lib/options.ts";
import { printJson, printTable } from "./lib/output.ts";
import { readTemplateFile } from "./lib/template-file.ts";

export function register(program: Command): void {
  const cmd = program.command("work-pool").description("Manage work pools");

  cmd
    .command("create")
    .description('Create a work pool (with a "default" queue)')
    .argument("<name>", "pool name")
    .option("--type <type>", "infrastructure its runs start on: process or docker", "process")
    .option("--description <text>", "description")
    .option("--limit <n>", "most runs of the pool pending or running at once", nonNegativeInt("--limit"))
    .option(
      "--base-job-template <file>",
      "JSON file of the pool's job template (default: the type's; see get-default-base-job-template)",
    )
    .action(async (name, opts) => {
      const template = opts.baseJobTemplate ? await readTemplateFile(opts.baseJobTemplate) : undefined;
      const pool = await client().createWorkPool({
        name,
        type: opts.type,
        description: opts.description,
        concurrency_limit: opts.limit,
        base_job_template: template,
      });
      console.log(
        `Created work pool "${pool.name}" (${pool.type}); start an agent with: weir agent --pool ${pool.name}`,
      );
    });

  cmd
    .command("update")
    .description("Change a work pool's description, concurrency limit or base job template")
    .argument("<name>", "pool name")
    .option("--description <text>", "description")
    .option("--limit <n>", "most runs of the pool pending or running at once", nonNegativeInt("--limit"))
    .option("--no-limit", "remove the pool's concurrency limit")
    .option("--base-job-template <file>", "JSON file of the pool's job template")
    .action(async (name, opts) => {
      const limit = limitOption(opts.limit);
      if (opts.description === undefined && limit === undefined && !opts.baseJobTemplate)
        throw new WeirError(
          "USAGE",
          "nothing to change: give --description, --limit, --no-limit or --base-job-template",
        );
      const template = opts.baseJobTemplate ? await readTemplateFile(opts.baseJobTemplate) : undefined;
      const pool = await client().updateWorkPool(name, {
        description: opts.description,
        concurrency_limit: limit,
        base_job_template: template,
      });
      console.log(`Updated work pool "${pool.name}"; agents use the change for runs they start from now on`);
    });

  cmd
    .command("get-default-base-job-template")
    .description("Print the base job template a new pool of a type gets (edit it, then --base-job-template)")
    .requiredOption("--type <type>", "pool type: process or docker")
    .option("--file <file>", "write it to this file instead of printing it")
    .action(async (opts) => {
      const { registry } = await import("./lib/registry.ts");
      const { defaultBaseJobTemplate } = await import("../core/infra/index.ts");
      const { WeirError } = await import("../core/model/index.ts");
      const infra = (() => {
        try {
          return registry().requireInfrastructure(opts.type, "--type");
        } catch (err) {
          // A flag's value: a usage error (exit 2), as every other flag's.
          throw err instanceof WeirError ? new WeirError("USAGE", err.message) : err;
        }
      })();
      const text = `${JSON.stringify(defaultBaseJobTemplate(infra), null, 2)}\n`;
      if (opts.file) {
        const { writeFileSync } = await import("node:fs");
        writeFileSync(opts.file, text);
        console.log(`Wrote the ${infra.type} base job template to ${opts.file}`);
      } else process.stdout.write(text);
    });

  cmd
    .command("ls")
    .alias("list")
    .description("List work pools")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const pools = await client().listWorkPools();
      if (opts.json) return printJson(pools);
      if (pools.length === 0)
        return console.log("No work pools yet (create one with: weir work-pool create NAME --type process)");
      printTable(
        ["NAME", "TYPE", "QUEUES", "LIMIT", "PAUSED", "ID"],
        pools.map((p) => [
          p.name,
          p.type,
          p.queues.map((q) => q.name).join(","),
          p.concurrency_limit === null ? "-" : String(p.concurrency_limit),
          p.is_paused ? "yes" : "no",
          p.id,
        ]),
      );
    });

  cmd
    .command("inspect")
    .description("Show a work pool")
    .argument("<name>", "pool name")
    .option("--json", "print JSON")
    .action(async (name, opts) => {
      const c = client();
      const [pool, agents] = await Promise.all([c.getWorkPool(name), c.listAgents(name)]);
      if (opts.json) return printJson(pool);
      const { ago, printFields } = await import("./lib/output.ts");
      printFields([
        ["Work pool", `${pool.name}${pool.is_paused ? " (paused)" : ""}`],
        ["Id", pool.id],
        ["Type", pool.type],
        ["Description", pool.description ?? "-"],
        ["Concurrency limit", pool.concurrency_limit === null ? "none" : String(pool.concurrency_limit)],
        ["Created", pool.created],
      ]);
      const vars = (pool.base_job_template.variables ?? {}) as {
        properties?: Record<string, { default?: unknown; description?: string }>;
        required?: string[];
      };
      const props = Object.entries(vars.properties ?? {});
      if (props.length > 0) {
        console.log("");
        printTable(
          ["JOB VARIABLE", "DEFAULT"],
          props.map(([k, p]) => [
            `${k}${vars.required?.includes(k) ? " (required)" : ""}`,
            p.default === undefined ? "-" : JSON.stringify(p.default),
          ]),
        );
      }
      console.log("");
      printTable(
        ["QUEUE", "PRIORITY", "LIMIT", "PAUSED"],
        pool.queues.map((q) => [
          q.name,
          String(q.priority),
          q.concurrency_limit === null ? "-" : String(q.concurrency_limit),
          q.is_paused ? "yes" : "no",
        ]),
      );
      console.log("");
      if (agents.length === 0)
        console.log(`No agent has polled this pool (start one: weir agent --pool ${pool.name})`);
      else {
        // An agent restarted under the same name is one line: its latest start, and how many
        // earlier ones there were (every start is an agent of its own to the server).
        const latest = new Map<string, (typeof agents)[number]>();
        const starts = new Map<string, number>();
        for (const a of agents) {
          starts.set(a.name, (starts.get(a.name) ?? 0) + 1);
          const seen = latest.get(a.name);
          if (
            !seen ||
            a.status === "ONLINE" ||
            (seen.status !== "ONLINE" && a.last_heartbeat > seen.last_heartbeat)
          )
            latest.set(a.name, a);
        }
        printTable(
          ["AGENT", "STATUS", "QUEUES", "LAST HEARTBEAT"],
          [...latest.values()].map((a) => {
            const online = agents.filter((x) => x.name === a.name && x.status === "ONLINE").length;
            const earlier = starts.get(a.name)! - 1;
            return [
              `${a.name}${online > 1 ? ` (${online} running under this name)` : earlier > 0 ? ` (+${earlier} earlier)` : ""}`,
              a.stopped && a.status === "OFFLINE" ? "OFFLINE (stopped)" : (a.status ?? "-"),
              a.work_queues.join(",") || "all",
              ago(a.last_heartbeat),
            ];
          }),
        );
      }
    });

  cmd
    .command("delete")
    .description("Delete a work pool")
    .argument("<name>", "pool name")
    .action(async (name) => {
      const c = client();
      await c.deleteWorkPool(name);
      // As in Prefect, deployments keep the pool's name: say which, since their runs now wait.
      const orphans = (await c.listDeployments().catch(() => [])).filter((d) => d.work_pool_name === name);
      const shown = orphans.slice(0, 5).map((d) => `${d.flow_name}/${d.name}`);
      console.log(
        `Deleted work pool "${name}"${
          orphans.length
            ? `; ${orphans.length} deployment(s) still name it (${shown.join(", ")}${orphans.length > shown.length ? ", …" : ""}): their runs stay Scheduled until a pool of that name exists again or they are deployed to another`
            : ""
        }`,
      );
    });

  for (const [verb, paused] of [
    ["pause", true],
    ["resume", false],
  ] as const) {
    cmd
      .command(verb)
      .description(
        `${paused ? "Pause" : "Resume"} a work pool (agents ${paused ? "stop taking" : "take"} its runs)`,
      )
      .argument("<name>", "pool name")
      .action(async (name) => {
        await client().setWorkPoolPaused(name, paused);
        console.log(`Work pool "${name}" ${paused ? "paused" : "resumed"}`);
      });
  }
}
