import { hostname } from "node:os";
import { type Command, Option } from "@commander-js/extra-typings";
import { WeirError } from "../core/model/index.ts";
import { collect, collectDirs, nonNegativeInt, positiveInt } from "./lib/options.ts";
import { stamped } from "./lib/output.ts";

export function register(program: Command): void {
  program
    .command("agent")
    .description(
      "Poll a work pool and start each flow run on its infrastructure: a process, or a container for a docker pool (creates the pool if missing)",
    )
    .requiredOption("-p, --pool <name>", "work pool to take runs from")
    .option("--type <type>", "type of the pool when the agent creates it (process, docker)")
    .option("-q, --queue <name>", "only these queues of the pool (repeatable; default: all)", collect)
    .option("--limit <n>", "most flow runs running at once", positiveInt("--limit"), 10)
    .option("--name <name>", "agent name shown in the API", `${hostname()}-${process.pid}`)
    .option(
      "--kill-grace <seconds>",
      "how long a cancelled run has to stop before it is killed",
      positiveInt("--kill-grace"),
      30,
    )
    .option(
      "--prewarm <n>",
      "flow-run processes kept started ahead of the runs they take, so a run does not wait for a runtime to start (0: start each on demand)",
      nonNegativeInt("--prewarm", 64),
      2,
    )
    .addOption(
      new Option(
        "--isolation <mode>",
        "process: every flow run in a process of its own; none: flows run inside the agent (process pools; faster, but a flow can take the agent down, see the README)",
      )
        .choices(["process", "none"] as const)
        .default("process" as const),
    )
    .option(
      "--allow-dir <path>",
      "a folder runs may work in (pull steps' directories, working_dir) besides their own temporary one (repeatable; default: the folder the agent starts in)",
      collectDirs("--allow-dir"),
    )
    .action(async (opts, command) => {
      if (opts.isolation === "none" && opts.prewarm > 0 && command.getOptionValueSource("prewarm") === "cli")
        throw new WeirError(
          "USAGE",
          "--prewarm has no effect with --isolation none: flows run inside the agent, no process is started for them (drop one of the two)",
        );
      const { Agent } = await import("../core/agent/index.ts");
      const { selfCommand } = await import("../core/infra/index.ts");
      const { WeirClient } = await import("../core/client/index.ts");
      const { untilSignal } = await import("./lib/signals.ts");
      const { registry } = await import("./lib/registry.ts");
      const agent = new Agent({
        client: new WeirClient(),
        pool: opts.pool,
        queues: opts.queue ?? [],
        limit: opts.limit,
        name: opts.name,
        command: selfCommand(),
        registry: registry(),
        poolType: opts.type,
        killGraceMs: opts.killGrace * 1000,
        prewarm: opts.prewarm,
        isolation: opts.isolation,
        allowDirs: opts.allowDir,
        log: (m) => console.log(stamped(m)),
      });
      await agent.start();
      // A token revoked or expired while the agent runs: it stops (runs in progress finish with
      // tokens of their own) and exits 1 instead of failing its heartbeats for ever.
      const refused = agent.refused.then(async (err) => {
        console.log(
          stamped(
            `The server refuses this agent's token (revoked or expired): stopping; waiting for ${agent.runningCount} running flow run(s)`,
          ),
        );
        await agent.stop();
        throw err;
      });
      const signalled = untilSignal(async (second) => {
        if (second) {
          console.log("Killing running flow runs");
          agent.killAll();
          return;
        }
        console.log(
          `Stopping: no new work is taken; waiting for ${agent.runningCount} running flow run(s) (Ctrl-C again to kill them)`,
        );
        await agent.stop();
      });
      await Promise.race([signalled, refused]);
    });
}
