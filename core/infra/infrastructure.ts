import type * as v from "valibot";
import type { Deployment, FlowRun } from "../model/index.ts";

// What runs a flow run: a kind of infrastructure (a process, a Docker container) that an agent
// picks by its work pool's type. Process lives here; others come from plugins.

/** How a flow run's infrastructure ended. */
export interface InfraExit {
  /** Its exit code, or null when it has none (killed by a signal, lost). */
  code: number | null;
  /** Why, when an exit code alone does not say: "was killed by SIGKILL", "ran out of memory (OOMKilled)". */
  reason: string | null;
  /** The run's final state is known to be recorded (a run inside the agent): nothing to check. */
  recorded?: boolean;
}

/** One flow run's infrastructure, once started. */
export interface InfraHandle {
  /** Where it runs, for logs: "process 1234", "container 3f2a9c1b0d4e". */
  id: string;
  /** Settles when it has ended (never rejects). */
  exited: Promise<InfraExit>;
  /** Asks it to stop (SIGTERM); after `graceMs` it is forced (SIGKILL). Returns at once. */
  kill(graceMs: number): void;
}

/** What an agent gives the infrastructure when it launches a run. */
export interface LaunchContext {
  /** The API the flow run reports to (the agent's own). */
  apiUrl: string;
  /** The argv prefix that starts this Weir (a process run starts `weir execute <id>` with it). */
  command: string[];
  /** Lines for the agent's log. */
  log(message: string): void;
  /** Aborted when the run is cancelled while its infrastructure is still starting. */
  signal: AbortSignal;
  /**
   * The run's own API token (servers with auth on mint one per claimed run): the flow gets it as
   * WEIR_API_KEY, never the agent's. Null on an open server.
   */
  apiKey: string | null;
  /**
   * Folders on the agent's machine a run may work in besides its own (`weir agent --allow-dir`):
   * a process run's pull steps and working_dir must stay inside them.
   */
  allowedDirs: string[];
  /** The run's deployment as the claim answered it: a warm executor starts without reading it. */
  deployment?: Deployment;
  /** What this infrastructure's warm() gave the agent, if it was asked to prewarm. */
  warmed?: Warmed | null;
  /**
   * What the server said it accepts (x-weir-accepts), as the agent learnt it: an engine its claim
   * started running learns it from no RUNNING answer of its own.
   */
  accepts?: string[];
}

/** What an agent asks an infrastructure to keep ready (`weir agent --prewarm N`). */
export interface WarmOptions {
  count: number;
  apiUrl: string;
  command: string[];
  log(message: string): void;
}

/** Started executors waiting for runs; closed when the agent stops. */
export interface Warmed {
  /** How many are started and waiting now: runs they take can be recorded RUNNING when claimed. */
  readonly ready: number;
  close(): void;
}

export type JobVariablesSchema = v.ObjectSchema<v.ObjectEntries, undefined>;

export interface Infrastructure<S extends JobVariablesSchema = JobVariablesSchema> {
  /** The work pool type that runs on it ("process", "docker"). */
  type: string;
  /** One line for `weir work-pool create --help` and errors. */
  description: string;
  /**
   * Its job variables, with their defaults: the JSON Schema of this is the `variables` of a pool's
   * default base job template, and a run's job configuration is parsed with it before launch.
   */
  jobVariables: S;
  /** Checks that runs can start here at all (a reachable daemon), before an agent takes work. */
  check?(): Promise<void>;
  /**
   * Starts executors ahead of the runs they will take, so a run's start is off its critical path
   * (process: `weir execute --warm` processes with the runtime and engine loaded). The agent
   * passes the result back in every launch's context.
   */
  warm?(opts: WarmOptions): Warmed;
  /** Starts one flow run; resolves once it runs, rejects (with the reason) when it cannot start. */
  launch(run: FlowRun, config: v.InferOutput<S>, ctx: LaunchContext): Promise<InfraHandle>;
  /**
   * Notes for `weir deploy` about a deployment its runs could not run as given (a container
   * image that holds no project code and no pull steps to fetch it). `jobVariables` are the
   * pool's defaults with the deployment's on top, placeholders left in.
   */
  deployNotes?(d: { jobVariables: Record<string, unknown>; pullSteps: unknown[] }): string[];
}

/**
 * What every flow run's process gets from its agent, whatever runs it: where the API is, its run,
 * the claim's holder (state reports carry it; the server refuses them once the claim is someone
 * else's) and the run's own token, never the agent's own WEIR_API_KEY.
 */
export function runVariables(
  run: FlowRun,
  ctx: LaunchContext,
  apiUrl = ctx.apiUrl,
): Record<string, string | undefined> {
  return {
    WEIR_API_URL: apiUrl,
    WEIR_FLOW_RUN_ID: run.id,
    WEIR_AGENT_ID: run.agent_id ?? "",
    WEIR_API_KEY: ctx.apiKey ?? undefined,
    // Its claim recorded it RUNNING (an agent with --isolation none starting it in a process of
    // its own): the engine must not propose RUNNING again.
    WEIR_RUN_STARTED: run.state.type === "RUNNING" ? run.id : undefined,
    // What the server takes, as the agent learnt it: a process started for the run sends its
    // task runs with its first report as a warm executor does (see LaunchContext.accepts).
    WEIR_SERVER_ACCEPTS: ctx.accepts?.length ? ctx.accepts.join(",") : undefined,
  };
}

/** Declares an infrastructure; the schema types its job configuration. */
export function defineInfrastructure<S extends JobVariablesSchema>(infra: Infrastructure<S>): Infrastructure {
  return infra as unknown as Infrastructure;
}
