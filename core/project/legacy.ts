import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { mergeJobVariables } from "../infra/index.ts";
import { WeirError } from "../model/index.ts";
import { storagePullSteps } from "./storage.ts";

// Prefect 2's `deployment build` / `deployment apply` workflow: a <flow>-deployment.yaml whose
// top part is edited by people and whose part below the marker is written by the tool.

export const MARKER = "###\n### DO NOT EDIT BELOW THIS LINE\n###";

const LEGACY_KEYS = [
  "flow_name",
  "infra_overrides",
  "parameter_openapi_schema",
  "manifest_path",
  "infrastructure",
  "storage",
  "timestamp",
];

/** A 2.x deployment file (not a project file): several of its tool-written keys, no `deployments`. */
export function isLegacyDeploymentFile(data: unknown): boolean {
  if (!data || typeof data !== "object" || Array.isArray(data)) return false;
  const keys = Object.keys(data);
  return !keys.includes("deployments") && LEGACY_KEYS.filter((k) => keys.includes(k)).length >= 2;
}

export interface LegacyBuild {
  flowName: string;
  name: string;
  entrypoint: string;
  /** Folder the entrypoint is relative to. */
  path: string;
  description: string | null;
  version: string | null;
  tags: string[];
  parameters: Record<string, unknown>;
  parameterSchema: Record<string, unknown> | null;
  schedule: Record<string, unknown> | null;
  workPoolName: string | null;
  workQueueName: string | null;
  infraOverrides: Record<string, unknown>;
  /** The infrastructure runs use: its type, and the block it came from with its fields. */
  infrastructure: { type: string; block: string | null; fields: Record<string, unknown> };
  /** The storage block the code was put in: its type, name and non-secret fields, and the sub-path. */
  storage: { type: string; name: string; fields: Record<string, unknown>; sub: string } | null;
}

/** Writes the file `weir deployment build` produces; returns its path. */
export function writeLegacyFile(file: string, b: LegacyBuild): string {
  const top = {
    name: b.name,
    description: b.description,
    version: b.version,
    work_queue_name: b.workQueueName,
    work_pool_name: b.workPoolName,
    tags: b.tags,
    parameters: b.parameters,
    schedule: b.schedule,
    is_schedule_active: true,
    infra_overrides: b.infraOverrides,
  };
  const bottom = {
    flow_name: b.flowName,
    manifest_path: null,
    // As Prefect writes it: the type, the block's fields, and which block they came from.
    infrastructure: {
      type: b.infrastructure.type,
      ...b.infrastructure.fields,
      ...(b.infrastructure.block
        ? {
            _block_type_slug: b.infrastructure.type,
            _block_document_name: b.infrastructure.block.split("/")[1],
          }
        : {}),
    },
    // As Prefect writes it: the block's fields (secrets left out) with its type and name.
    storage: b.storage
      ? { ...b.storage.fields, _block_type_slug: b.storage.type, _block_document_name: b.storage.name }
      : null,
    path: b.storage ? b.storage.sub : b.path,
    entrypoint: b.entrypoint,
    parameter_openapi_schema: b.parameterSchema,
    timestamp: new Date().toISOString(),
  };
  const text = `###\n### A complete description of a Weir deployment for flow '${b.flowName}'\n###\n${stringify(top, { nullStr: "null" })}\n${MARKER}\n${stringify(bottom, { nullStr: "null" })}`;
  writeFileSync(file, text);
  return file;
}

/** Reads a 2.x deployment file into an API deployment body. */
export function readLegacyFile(file: string): {
  body: Record<string, unknown>;
  notes: string[];
  /** The 2.x infrastructure type runs use: "process" or "docker-container". */
  infrastructure: string;
} {
  if (!existsSync(file)) throw new WeirError("INVALID", `${file} does not exist`);
  let data: Record<string, unknown>;
  try {
    data = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new WeirError("INVALID", `${file}: YAML syntax error: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!isLegacyDeploymentFile(data)) {
    throw new WeirError(
      "INVALID",
      `${file} is not a deployment file written by weir deployment build (a project file deploys with: weir deploy --file ${file})`,
    );
  }
  const need = (k: string) => {
    const v = data[k];
    if (typeof v !== "string" || !v)
      throw new WeirError(
        "INVALID",
        `${file}: \`${k}\` is missing (rebuild the file with: weir deployment build)`,
      );
    return v;
  };
  const notes: string[] = [];
  // Code kept in a storage block: each run pulls it from there.
  let pullSteps: Record<string, unknown>[] | null = null;
  const storage = data.storage as Record<string, unknown> | null | undefined;
  if (storage && typeof storage === "object" && Object.keys(storage).length > 0) {
    const type = storage._block_type_slug ?? storage.block_type_slug;
    const name = storage._block_document_name;
    if (typeof type !== "string" || typeof name !== "string" || storage._is_anonymous === true) {
      throw new WeirError(
        "INVALID",
        `${file}: the storage block has no name Weir can read it by (create a named block, then rebuild with weir deployment build -sb TYPE/NAME)`,
      );
    }
    pullSteps = storagePullSteps(type, name, storage, typeof data.path === "string" ? data.path : "");
    notes.push(`runs pull the code from storage block ${type}/${name}`);
  }
  const infra = legacyInfrastructure(file, data.infrastructure);
  if (infra.type === "docker-container")
    notes.push("runs start in Docker containers: the work pool must be a docker pool");
  const base = pullSteps
    ? null
    : typeof data.path === "string" && data.path
      ? resolve(dirname(file), data.path)
      : dirname(resolve(file));
  const schedule =
    data.schedule && typeof data.schedule === "object" && Object.keys(data.schedule).length
      ? (data.schedule as Record<string, unknown>)
      : null;
  if (schedule && schedule.timezone === null) delete schedule.timezone;
  const pool = typeof data.work_pool_name === "string" && data.work_pool_name ? data.work_pool_name : null;
  if (!pool) notes.push("no work_pool_name: no agent will take this deployment's runs until you set one");
  return {
    infrastructure: infra.type,
    body: {
      flow_name: need("flow_name"),
      name: need("name"),
      description: data.description ?? null,
      version: data.version == null ? null : String(data.version),
      tags: Array.isArray(data.tags) ? data.tags.map(String) : [],
      parameters: (data.parameters as Record<string, unknown>) ?? {},
      parameter_openapi_schema: (data.parameter_openapi_schema as Record<string, unknown>) ?? null,
      entrypoint: need("entrypoint"),
      path: base,
      work_pool_name: pool,
      work_queue_name: (data.work_queue_name as string | null) ?? null,
      // Prefect applies the overrides to the infrastructure's fields; env merges name by name.
      job_variables: mergeJobVariables(infra.jobVariables, data.infra_overrides as Record<string, unknown>),
      is_schedule_active: data.is_schedule_active !== false,
      schedules: schedule ? [{ schedule }] : [],
      // Without storage, a process run starts where the code is; a container starts in its
      // image's working directory, where the code was built in.
      pull_steps:
        pullSteps ??
        (infra.type === "process" ? [{ "weir.steps.set_working_directory": { directory: base } }] : []),
    },
    notes,
  };
}

/** Prefect 2 infrastructure types Weir runs, and the work pool type each runs on. */
export const LEGACY_INFRASTRUCTURE: Record<string, string> = {
  process: "process",
  "docker-container": "docker",
};

/** Prefect's DockerContainer image_pull_policy values, as a docker pool's. */
const PULL_POLICY: Record<string, string> = {
  IF_NOT_PRESENT: "IfNotPresent",
  ALWAYS: "Always",
  NEVER: "Never",
};

/** A 2.x command (a list of words) as one command line. */
const commandLine = (words: unknown[]) =>
  words
    .map((w) => (/^[\w@%+=:,./-]+$/.test(String(w)) ? String(w) : `'${String(w).replaceAll("'", "'\\''")}'`))
    .join(" ");

/**
 * A 2.x `infrastructure:` section as the job variables of the pool type it runs on: a Process's
 * or a DockerContainer's fields under the docker pool's names. Unset fields are left out, so the
 * pool's defaults apply.
 */
export function legacyInfrastructure(
  file: string,
  raw: unknown,
): { type: string; jobVariables: Record<string, unknown> } {
  const infra = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const type = String(infra.type ?? infra._block_type_slug ?? infra.block_type_slug ?? "process");
  if (typeof infra.block === "string" && Object.keys(infra).length === 1)
    return {
      type: infra.block.split("/")[0] === "docker-container" ? "docker-container" : "process",
      jobVariables: {},
    };
  if (!LEGACY_INFRASTRUCTURE[type])
    throw new WeirError(
      "INVALID",
      `${file}: infrastructure type "${type}" is not supported yet (Weir runs ${Object.keys(LEGACY_INFRASTRUCTURE).join(" and ")}); use one of those, or a work pool in a project file`,
    );
  const out: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value === null || value === undefined) return;
    if (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0) return;
    if (Array.isArray(value) && value.length === 0) return;
    out[key] = value;
  };
  set("env", infra.env);
  set("labels", infra.labels);
  set("name", infra.name);
  set("command", Array.isArray(infra.command) ? commandLine(infra.command) : infra.command);
  if (infra.stream_output === false) out.stream_output = false;
  if (type === "process") set("working_dir", infra.working_dir);
  if (type === "docker-container") {
    set("image", infra.image);
    set("image_pull_policy", PULL_POLICY[String(infra.image_pull_policy)] ?? infra.image_pull_policy);
    set("networks", infra.networks);
    set("network_mode", infra.network_mode);
    set("volumes", infra.volumes);
    set("mem_limit", infra.mem_limit);
    set("memswap_limit", infra.memswap_limit);
    if (infra.auto_remove === true) out.auto_remove = true;
    if (infra.privileged === true) out.privileged = true;
    // Prefect's image_registry is a DockerRegistry block; Weir's block holds the name of a
    // docker-registry-credentials block, resolved when the run starts.
    // A placeholder given there already is used as it is.
    const registry = typeof infra.image_registry === "string" ? infra.image_registry.trim() : "";
    if (registry)
      out.registry_credentials = registry.startsWith("{{")
        ? registry
        : `{{ weir.blocks.docker-registry-credentials.${registry} }}`;
  }
  return { type, jobVariables: out };
}

export const relativeTo = (from: string, to: string) => relative(from, to) || ".";
