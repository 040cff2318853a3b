import type { Command } from "@commander-js/extra-typings";
import { collect } from "./lib/options.ts";
import { type ScheduleFlags, withScheduleFlags } from "./lib/schedule-flags.ts";

interface BuildFlags extends ScheduleFlags {
  name: string;
  output?: string;
  apply?: boolean;
  workQueue?: string;
  pool?: string;
  tag?: string[];
  version?: string;
  param?: string[];
  params?: string;
  override?: string[];
  infraBlock?: string;
  storageBlock?: string;
  path?: string;
  skipUpload?: boolean;
}

/** Prefect 2's workflow: `weir deployment build` writes a deployment file, `apply` registers it. */
export function registerLegacyCommands(deployment: Command): void {
  withScheduleFlags(
    deployment
      .command("build")
      .description(
        "Write <flow>-deployment.yaml for a flow (Prefect 2's workflow; edit it, then weir deployment apply)",
      )
      .argument("<entrypoint>", "path/file.ts:flowName"),
  )
    .requiredOption("-n, --name <name>", "deployment name")
    .option("-o, --output <file>", "where to write the file (default: <flow-name>-deployment.yaml)")
    .option("-a, --apply", "register the deployment with the API right away")
    .option("-q, --work-queue <name>", "work queue")
    .option("-p, --pool <name>", "work pool")
    .option("-t, --tag <tag>", "tag (repeatable)", collect)
    .option("-v, --version <version>", "deployment version")
    .option("--param <name=value>", "default parameter, value read as JSON else text (repeatable)", collect)
    .option("--params <json>", "default parameters as a JSON object")
    .option(
      "--override <key=value>",
      "infrastructure override (job variable), dots nest: env.KEY=value (repeatable)",
      collect,
    )
    .option(
      "--ib, --infra-block <type/name>",
      "infrastructure block (recorded; flows run as processes); -ib works too",
    )
    .option(
      "--sb, --storage-block <type/name>",
      "storage block (not supported: use git_clone pull steps in weir.yaml); -sb works too",
    )
    .option("--path <dir>", "folder the entrypoint is relative to (default: the current folder)")
    .option("--skip-upload", "do not upload files (there is nothing to upload without a storage block)")
    .action(async (...args: unknown[]) => {
      const [entrypoint, f] = args as [string, BuildFlags];
      const { resolve, relative, isAbsolute } = await import("node:path");
      const { WeirError, parseParamFlags } = await import("../core/model/index.ts");
      const { registerFlowModules, loadFlow } = await import("../core/engine/index.ts");
      const { parameterSchema, writeLegacyFile } = await import("../core/project/index.ts");
      const { keyValues } = await import("./lib/options.ts");
      const { scheduleFromFlags } = await import("./lib/schedule-flags.ts");
      if (f.storageBlock) {
        throw new WeirError(
          "USAGE",
          "--storage-block is not supported: keep the code where the agent runs, or write a weir.yaml with a git_clone pull step",
        );
      }
      registerFlowModules();
      const base = resolve(f.path ?? ".");
      const { parseEntrypoint } = await import("../core/engine/index.ts");
      const ep = parseEntrypoint(entrypoint);
      const file = isAbsolute(ep.file) ? ep.file : resolve(ep.file);
      const flow = await loadFlow(`${file}:${ep.exportName}`, process.cwd());
      const schedule = await scheduleFromFlags(f);
      const out = resolve(f.output ?? `${flow.options.name}-deployment.yaml`);
      writeLegacyFile(out, {
        flowName: flow.options.name,
        name: f.name,
        entrypoint: `${relative(base, file)}:${ep.exportName}`,
        path: base,
        description: flow.options.description ?? null,
        version: f.version ?? flow.options.version ?? null,
        tags: f.tag ?? [],
        parameters: parseParamFlags(f.param ?? [], f.params),
        parameterSchema: parameterSchema(flow),
        schedule,
        workPoolName: f.pool ?? null,
        workQueueName: f.workQueue ?? null,
        infraOverrides: keyValues(f.override, "--override"),
        infraBlock: f.infraBlock ?? null,
        storageBlock: null,
      });
      console.log(
        `Wrote ${relative(process.cwd(), out)}: edit what is above the DO NOT EDIT line, then: weir deployment apply ${relative(process.cwd(), out)}`,
      );
      if (f.apply) await applyFile(out);
    });

  deployment
    .command("apply")
    .description("Register a deployment file written by weir deployment build")
    .argument("<file>", "the <flow>-deployment.yaml")
    .option("--upload", "upload files (there is nothing to upload without a storage block)")
    .action(async (file) => applyFile(file));
}

async function applyFile(file: string): Promise<void> {
  const { readLegacyFile } = await import("../core/project/index.ts");
  const { client } = await import("./lib/options.ts");
  const { body, notes } = readLegacyFile(file);
  const { deployment, created } = await client().upsertDeployment(body);
  console.log(
    `Deployment ${deployment.flow_name}/${deployment.name} ${created ? "created" : "updated"} (id ${deployment.id})`,
  );
  for (const n of notes) console.log(`  note: ${n}`);
  console.log(`Run it with: weir deployment run '${deployment.flow_name}/${deployment.name}' --watch`);
}
