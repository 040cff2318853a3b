import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { parse, stringify } from "yaml";
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
  infraBlock: string | null;
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
    infrastructure: b.infraBlock ? { block: b.infraBlock } : { type: "process" },
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
export function readLegacyFile(file: string): { body: Record<string, unknown>; notes: string[] } {
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
  const infra = data.infrastructure as { block?: string; type?: string } | null;
  if (infra?.block)
    notes.push(`infrastructure block ${infra.block} is recorded but Weir runs flows as processes for now`);
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
      job_variables: (data.infra_overrides as Record<string, unknown>) ?? {},
      is_schedule_active: data.is_schedule_active !== false,
      schedules: schedule ? [{ schedule }] : [],
      pull_steps: pullSteps ?? [{ "weir.steps.set_working_directory": { directory: base } }],
    },
    notes,
  };
}

export const relativeTo = (from: string, to: string) => relative(from, to) || ".";
