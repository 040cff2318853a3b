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
  infra?: string;
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
    .option("-i, --infra <type>", "infrastructure type: process or docker-container (default: process)")
    .option(
      "--ib, --infra-block <type/name>",
      "infrastructure block whose settings runs use: process/NAME or docker-container/NAME; -ib works too",
    )
    .option(
      "--sb, --storage-block <type/name[/path]>",
      "storage block the code goes to and runs pull from: s3, remote-file-system (s3://), local-file-system or github; -sb works too",
    )
    .option("--path <dir>", "folder the entrypoint is relative to (default: the current folder)")
    .option("--skip-upload", "with a storage block: do not upload (the code is there already)")
    .action(async (...args: unknown[]) => {
      const [entrypoint, f] = args as [string, BuildFlags];
      const { resolve, relative, isAbsolute } = await import("node:path");
      const { parseParamFlags } = await import("../core/model/index.ts");
      const { registerFlowModules, loadFlow } = await import("../core/engine/index.ts");
      const { parameterSchema, writeLegacyFile } = await import("../core/project/index.ts");
      const { keyValues } = await import("./lib/options.ts");
      const { scheduleFromFlags } = await import("./lib/schedule-flags.ts");
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
        infrastructure: await infrastructureOf(f),
        storage: f.storageBlock ? await uploadToStorage(f.storageBlock, base, f.skipUpload === true) : null,
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
    .option("--upload", "upload the file's folder to its storage block again first")
    .action(async (file, opts) => {
      if (opts.upload) {
        const { dirname, resolve } = await import("node:path");
        const { readFileSync } = await import("node:fs");
        const { parse } = await import("yaml");
        const data = parse(readFileSync(file, "utf8")) as {
          storage?: Record<string, unknown>;
          path?: string;
        };
        const type = data.storage?._block_type_slug;
        const name = data.storage?._block_document_name;
        if (typeof type === "string" && typeof name === "string")
          await uploadToStorage(
            `${type}/${name}${data.path ? `/${data.path}` : ""}`,
            dirname(resolve(file)),
            false,
          );
      }
      await applyFile(file);
    });
}

/**
 * `-sb TYPE/NAME[/path]`: reads the storage block, uploads the project folder there (unless
 * --skip-upload), and returns what the deployment file records of it (never its secrets).
 */
async function uploadToStorage(
  ref: string,
  base: string,
  skipUpload: boolean,
): Promise<{ type: string; name: string; fields: Record<string, unknown>; sub: string }> {
  const { WeirError, maskSecrets, secretValues } = await import("../core/model/index.ts");
  const { parseStorageRef, storageUpload } = await import("../core/project/index.ts");
  const { runSteps, projectFiles, ignoreFileFor } = await import("../core/steps/index.ts");
  const { consoleLogger } = await import("../core/sdk/logger.ts");
  const { client } = await import("./lib/options.ts");
  const { registry } = await import("./lib/registry.ts");
  const { type, name, sub } = parseStorageRef(ref);
  const t = registry().blockType(type);
  const block = await client().findBlock(type, name, true);
  if (!block) {
    throw new WeirError(
      "NOT_FOUND",
      `Storage block ${type}/${name} does not exist (create it with: weir block create ${type} ${name} --field ...)`,
    );
  }
  const upload = storageUpload(type, block.data, sub);
  if (upload && !skipUpload) {
    if ("copyTo" in upload) {
      const { cpSync, mkdirSync } = await import("node:fs");
      const { dirname, join } = await import("node:path");
      const files = projectFiles(base, ignoreFileFor(base, undefined));
      for (const f of files) {
        mkdirSync(dirname(join(upload.copyTo, f.rel)), { recursive: true });
        cpSync(f.abs, join(upload.copyTo, f.rel));
      }
      console.log(`Copied ${files.length} file(s) to ${upload.copyTo}`);
    } else {
      await runSteps([upload.step], {
        registry: registry(),
        env: process.env,
        cwd: base,
        log: consoleLogger,
        signal: new AbortController().signal,
        secrets: secretValues(t, block.data),
      });
    }
  }
  // What the file keeps: the block's fields with the secret ones masked, as Prefect writes them
  // ('**********'): a run's pull step then knows to read that field from the block.
  return { type, name, fields: maskSecrets(t, block.data), sub };
}

/**
 * `--infra TYPE` or `-ib TYPE/NAME`: the infrastructure the deployment file records, with the
 * block's fields when one is named.
 */
async function infrastructureOf(
  f: BuildFlags,
): Promise<{ type: string; block: string | null; fields: Record<string, unknown> }> {
  const { WeirError } = await import("../core/model/index.ts");
  const { LEGACY_INFRASTRUCTURE } = await import("../core/project/index.ts");
  const known = Object.keys(LEGACY_INFRASTRUCTURE);
  if (f.infra && f.infraBlock)
    throw new WeirError("USAGE", "give --infra or -ib, not both (-ib names the type with the block)");
  if (!f.infraBlock) {
    const type = f.infra ?? "process";
    if (!known.includes(type))
      throw new WeirError(
        "USAGE",
        `--infra ${type} is not supported yet: use ${known.join(" or ")} (or a work pool in a project file)`,
      );
    return { type, block: null, fields: {} };
  }
  const [type, name, ...rest] = f.infraBlock.split("/");
  if (!type || !name || rest.length)
    throw new WeirError("USAGE", `-ib ${f.infraBlock} must be TYPE/NAME, such as docker-container/my-image`);
  if (!known.includes(type))
    throw new WeirError(
      "USAGE",
      `-ib ${f.infraBlock}: infrastructure type ${type} is not supported yet (use ${known.join(" or ")})`,
    );
  const { client } = await import("./lib/options.ts");
  const block = await client().findBlock(type, name);
  if (!block)
    throw new WeirError(
      "NOT_FOUND",
      `Infrastructure block ${type}/${name} does not exist (create it with: weir block create ${type} ${name} --field image=...)`,
    );
  return { type, block: f.infraBlock, fields: block.data };
}

async function applyFile(file: string): Promise<void> {
  const { readLegacyFile, LEGACY_INFRASTRUCTURE } = await import("../core/project/index.ts");
  const { WeirError } = await import("../core/model/index.ts");
  const { client } = await import("./lib/options.ts");
  const { body, notes, infrastructure } = readLegacyFile(file);
  // The pool decides where runs start: it must be of the type the file's infrastructure runs on.
  const poolType = LEGACY_INFRASTRUCTURE[infrastructure]!;
  const poolName = body.work_pool_name as string | null;
  if (poolName) {
    const pool = await client()
      .getWorkPool(poolName)
      .catch(() => undefined);
    if (pool && pool.type !== poolType)
      throw new WeirError(
        "INVALID",
        `${file}: its infrastructure is ${infrastructure}, which runs on a ${poolType} work pool, and work pool "${pool.name}" is a ${pool.type} pool: set work_pool_name to a ${poolType} pool (create one with: weir work-pool create NAME --type ${poolType})`,
      );
  } else if (poolType !== "process") {
    notes.push(`set work_pool_name to a ${poolType} pool (weir work-pool create NAME --type ${poolType})`);
  }
  const { deployment, created } = await client().upsertDeployment(body);
  console.log(
    `Deployment ${deployment.flow_name}/${deployment.name} ${created ? "created" : "updated"} (id ${deployment.id})`,
  );
  for (const n of notes) console.log(`  note: ${n}`);
  console.log(`Run it with: weir deployment run '${deployment.flow_name}/${deployment.name}' --watch`);
}
