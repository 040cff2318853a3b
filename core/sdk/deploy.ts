import { join, relative, sep } from "node:path";
import { WeirClient } from "../client/index.ts";
import { type Deployment, didYouMean, WeirError } from "../model/index.ts";
import { currentContext, currentLogger } from "./context.ts";
import { type Flow, isFlow } from "./flow.ts";
import { flowLoading, sdkHost } from "./host.ts";

/** A deployment's schedule, written as in weir.yaml (`cron`, `interval`, `rrule`, `timezone`...). */
export type ScheduleSpec = Record<string, unknown>;

/**
 * A deployment of a flow, made from code: the same fields as a `deployments:` entry of weir.yaml
 * (in camelCase), and deployed through the same loader and checks.
 */
export interface DeployOptions {
  // biome-ignore lint/suspicious/noExplicitAny: any flow, whatever its parameters and result
  flow: Flow<any, any>;
  /** The deployment's name; it is addressed as FLOW/NAME. */
  name: string;
  /** Default parameters of its runs. */
  parameters?: Record<string, unknown>;
  /** Schedules, each as in weir.yaml: { cron: "0 9 * * *", timezone: "Europe/Berlin" }, { interval: 3600 }... */
  schedules?: ScheduleSpec[];
  /** The work pool whose agents run it. */
  workPool?: string;
  /** A queue of that pool (default: "default"). */
  workQueueName?: string;
  /** Job variables for the pool's infrastructure. */
  jobVariables?: Record<string, unknown>;
  tags?: string[];
  version?: string;
  description?: string;
  /** Pull steps, as in weir.yaml (default: run in the folder deploy() was called from). */
  pull?: unknown[];
  /** Most runs active at once: a number, or { limit, collisionStrategy: "ENQUEUE" | "CANCEL_NEW" }. */
  concurrencyLimit?: number | { limit: number; collisionStrategy?: "ENQUEUE" | "CANCEL_NEW" };
  /** Check run parameters against the flow's schema when a run is created (default true). */
  enforceParameterSchema?: boolean;
  paused?: boolean;
  /** Where the agent finds the flow (default: the file the flow was defined in, from here). */
  entrypoint?: string;
}

const KEYS: readonly (keyof DeployOptions)[] = [
  "flow",
  "name",
  "parameters",
  "schedules",
  "workPool",
  "workQueueName",
  "jobVariables",
  "tags",
  "version",
  "description",
  "pull",
  "concurrencyLimit",
  "enforceParameterSchema",
  "paused",
  "entrypoint",
];

/** What deploy() writes: the weir.yaml entry the options stand for. */
export function deploymentEntry(o: DeployOptions, cwd: string, what = "deploy()"): Record<string, unknown> {
  if (!o || typeof o !== "object") throw new WeirError("INVALID", `${what}: give { flow, name, ... }`);
  for (const key of Object.keys(o)) {
    if ((KEYS as readonly string[]).includes(key)) continue;
    const near = didYouMean(key, KEYS);
    throw new WeirError(
      "INVALID",
      `${what}: unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ""}; the options are ${KEYS.join(", ")}`,
    );
  }
  if (!isFlow(o.flow))
    throw new WeirError(
      "INVALID",
      `${what}: flow must be a flow made with flow() from "weir" (got ${o.flow === undefined ? "nothing" : typeof o.flow})`,
    );
  let entrypoint = o.entrypoint;
  if (entrypoint === undefined) {
    const file = o.flow.source;
    if (!file)
      throw new WeirError(
        "INVALID",
        `${what}: cannot tell which file flow "${o.flow.options.name}" is defined in: give entrypoint: "path/file.ts:${o.flow.options.name}"`,
      );
    const rel = relative(cwd, file);
    if (rel.startsWith("..") || rel.startsWith(sep))
      throw new WeirError(
        "INVALID",
        `${what}: flow "${o.flow.options.name}" is defined in ${file}, outside the folder deploy() runs in (${cwd}); agents find flows inside the deployment's folder: run the script from the project folder, or give entrypoint`,
      );
    entrypoint = `${rel.split(sep).join("/")}:${o.flow.options.name}`;
  }
  const cl = o.concurrencyLimit;
  const entry: Record<string, unknown> = {
    name: o.name,
    entrypoint,
    version: o.version,
    description: o.description,
    tags: o.tags,
    parameters: o.parameters,
    enforce_parameter_schema: o.enforceParameterSchema,
    paused: o.paused,
    schedules: o.schedules,
    work_pool:
      o.workPool !== undefined || o.workQueueName !== undefined || o.jobVariables !== undefined
        ? { name: o.workPool, work_queue_name: o.workQueueName, job_variables: o.jobVariables }
        : undefined,
    // camelCase keys become weir.yaml's; any other key stays, for the loader to name.
    concurrency_limit:
      cl !== null && typeof cl === "object" && !Array.isArray(cl)
        ? Object.fromEntries(
            Object.entries(cl).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]),
          )
        : cl,
    pull: o.pull,
  };
  return JSON.parse(JSON.stringify(entry)); // drops what is undefined
}

/**
 * Creates or updates deployments from code — the TypeScript counterpart of Prefect's
 * `flow.deploy()` / `Deployment.build_from_flow()`. Each is written as the weir.yaml entry it
 * stands for and deployed through the loader and checks `weir deploy` uses, so the two cannot
 * differ. Errors name the option at fault (positions refer to that entry). Returns the
 * deployments as the server stored them, in order.
 */
export async function deploy(...deployments: DeployOptions[]): Promise<Deployment[]> {
  if (flowLoading.depth > 0) {
    currentLogger().debug("deploy() skipped: this file is being loaded to run a flow from it");
    return [];
  }
  if (deployments.length === 0) throw new WeirError("INVALID", "deploy(): give at least one { flow, name }");
  const cwd = process.cwd();
  const entries = deployments.map((d, i) =>
    deploymentEntry(d, cwd, deployments.length > 1 ? `deploy() deployment #${i + 1}` : "deploy()"),
  );
  const known = new Map(entries.map((e, i) => [e.entrypoint as string, deployments[i]!.flow as Flow]));
  const registry = await sdkHost("deploy()").registry();
  // Loaded here, not with the SDK: every flow process imports the SDK, few of them deploy.
  const [project, { stringify }] = await Promise.all([import("../project/index.ts"), import("yaml")]);
  const source = stringify({ deployments: entries });
  const proj = project.parseProject(source, {
    path: join(cwd, "weir.yaml"),
    displayFile: "deploy() options (as weir.yaml)",
    registry,
  });
  const planned = await project.planDeployments(proj, [], true, {}, known);
  const client = currentContext()?.client ?? new WeirClient();
  const out: Deployment[] = [];
  const log = currentLogger();
  for (const w of proj.warnings) log.warning(w);
  for (const p of planned) {
    const outcome = await project.deployOne(
      client,
      proj,
      p,
      {},
      {
        signal: currentContext()?.signal ?? new AbortController().signal,
        registry,
        env: process.env,
      },
    );
    if (!outcome.ok || !outcome.deployment)
      throw new WeirError("INVALID", `deploy(): ${outcome.name} was not deployed:\n${outcome.error ?? ""}`);
    log.info(
      `Deployment ${outcome.name} ${outcome.created ? "created" : "updated"} (id ${outcome.deployment.id})`,
    );
    for (const n of outcome.notes) log.info(`  note: ${n}`);
    out.push(outcome.deployment);
  }
  return out;
}
