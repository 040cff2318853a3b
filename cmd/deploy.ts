import type { Command } from "@commander-js/extra-typings";
import type { DeployFlags } from "./lib/deploy-command.ts";
import { collect } from "./lib/options.ts";
import { withScheduleFlags } from "./lib/schedule-flags.ts";

export function register(program: Command): void {
  const cmd = program.command("deploy");
  withScheduleFlags(cmd)
    .description("Create or update deployments defined in weir.yaml (or prefect.yaml)")
    .argument(
      "[entrypoint]",
      "deploy this flow (path/file.ts:flow) with the flags instead of an entry of the file",
    )
    .option("-n, --name <name>", "deployment to deploy: NAME, FLOW/NAME or a glob (repeatable)", collect)
    .option("--all", "deploy every deployment in the file")
    .option("-d, --description <text>", "deployment description")
    .option("-v, --version <version>", "deployment version")
    .option("-t, --tag <tag>", "tag (repeatable)", collect)
    .option("-p, --pool <name>", "work pool")
    .option("-q, --queue <name>", "work queue of the pool")
    .option("--job-variable <key=value>", "job variable (repeatable; dots nest: env.TOKEN=x)", collect)
    .option("--param <name=value>", "default parameter, value read as JSON else text (repeatable)", collect)
    .option("--params <json>", "default parameters as a JSON object")
    .option("--enforce-parameter-schema", "validate run parameters against the flow's schema (default)")
    .option("--no-enforce-parameter-schema", "accept any parameters")
    .option("--file <path>", "project file (default: weir.yaml, else prefect.yaml)")
    .option("--dry-run", "print what would be deployed; run no steps, change nothing")
    .option("--json", "print the result as JSON")
    .action(async (...args: unknown[]) => {
      const [entrypoint, opts] = args as [string | undefined, DeployFlags];
      const { deployCommand } = await import("./lib/deploy-command.ts");
      await deployCommand(entrypoint, opts);
    });
}
