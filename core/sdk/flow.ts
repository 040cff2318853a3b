import type * as v from "valibot";
import type { Deployment } from "../model/index.ts";
import { currentContext } from "./context.ts";
import type { DeployOptions } from "./deploy.ts";
import type { Logger } from "./logger.ts";
import type { ServeOptions } from "./serve.ts";

export interface FlowOptions<S extends v.GenericSchema | undefined = undefined> {
  /** The flow's name; deployments are addressed as FLOW/DEPLOYMENT. */
  name: string;
  description?: string;
  version?: string;
  /** A valibot schema for the parameters object; it becomes the deployment's JSON Schema. */
  params?: S;
  retries?: number;
  retryDelaySeconds?: number;
  timeoutSeconds?: number;
}

export interface FlowContext {
  log: Logger;
  /** Aborted when the run is cancelled or times out. */
  signal: AbortSignal;
  flowRunId: string | null;
}

type ParamsOf<S> = S extends v.GenericSchema ? v.InferOutput<S> : Record<string, unknown>;
type InputOf<S> = S extends v.GenericSchema ? v.InferInput<S> : Record<string, unknown>;

export interface Flow<S extends v.GenericSchema | undefined = v.GenericSchema | undefined, R = unknown> {
  readonly kind: "weir.flow";
  readonly options: FlowOptions<S>;
  readonly fn: (params: ParamsOf<S>, ctx: FlowContext) => Promise<R> | R;
  /**
   * Calls the flow. Inside a tracked flow run this starts a subflow run linked to the caller
   * (its failure rejects this promise); elsewhere, or with `ctx` given, it runs the body directly.
   */
  (params: InputOf<S>, ctx?: Partial<FlowContext>): Promise<R>;
  /** The file the flow was defined in (deploy() makes the entrypoint from it), when known. */
  readonly source?: string;
  /** Creates or updates a deployment of this flow: deploy({ flow: this, ...options }). */
  deploy(options: Omit<DeployOptions, "flow">): Promise<Deployment>;
  /**
   * Deploys this flow and runs its scheduled and requested runs in this process, with no agent,
   * until SIGINT/SIGTERM: serve({ flow: this, ...options }).
   */
  serve(options: Omit<DeployOptions, "flow"> & ServeOptions): Promise<void>;
}

export function flow<S extends v.GenericSchema | undefined = undefined, R = unknown>(
  options: FlowOptions<S>,
  fn: (params: ParamsOf<S>, ctx: FlowContext) => Promise<R> | R,
): Flow<S, R> {
  if (!options || typeof options.name !== "string" || options.name.trim() === "") {
    throw new TypeError('flow() needs a name: flow({ name: "my-flow" }, async (params, { log }) => { ... })');
  }
  if (options.name.includes("/")) throw new TypeError(`flow name "${options.name}" must not contain "/"`);
  const call = async (params: InputOf<S>, ctx?: Partial<FlowContext>): Promise<R> => {
    // Inside a tracked flow run, a called flow is a subflow run of its own (states, logs, tasks,
    // retries, timeout), linked to the caller; elsewhere it is a plain call.
    const running = currentContext();
    if (running?.subflow && !ctx)
      return (await running.subflow(self as unknown as Flow, (params ?? {}) as Record<string, unknown>)) as R;
    const { consoleLogger } = await import("./logger.ts");
    return fn(params as ParamsOf<S>, {
      log: ctx?.log ?? consoleLogger,
      signal: ctx?.signal ?? new AbortController().signal,
      flowRunId: ctx?.flowRunId ?? null,
    });
  };
  const source = callerFile();
  const self = Object.assign(call, {
    kind: "weir.flow" as const,
    options,
    fn,
    source,
    deploy: async (o: Omit<DeployOptions, "flow">) => {
      const { deploy } = await import("./deploy.ts");
      const [d] = await deploy({ ...o, flow: self as Flow });
      return d as Deployment;
    },
    serve: async (o: Omit<DeployOptions, "flow"> & ServeOptions) => {
      const { serve } = await import("./serve.ts");
      const { limit, workPool, onStop, pauseOnShutdown, ...rest } = o ?? ({} as typeof o);
      const options = Object.fromEntries(
        Object.entries({ limit, onStop, workPool, pauseOnShutdown }).filter(([, v]) => v !== undefined),
      );
      await serve({ ...rest, workPool, flow: self as Flow }, options);
    },
  }) as Flow<S, R>;
  return self;
}

export function isFlow(x: unknown): x is Flow {
  return typeof x === "function" && (x as { kind?: unknown }).kind === "weir.flow";
}

/** The file that called flow(): the first frame of the stack outside the SDK itself. */
function callerFile(): string | undefined {
  const frames = new Error().stack?.split("\n").slice(1) ?? [];
  for (const frame of frames) {
    const m = /((?:file:\/\/)?\/[^():?]+\.(?:[cm]?[jt]sx?))(?:\?[^:]*)?:\d+:\d+\)?\s*$/.exec(frame);
    if (!m) continue;
    const file = m[1]!.replace(/^file:\/\//, "");
    if (file.includes("/core/sdk/") || file.includes("$bunfs") || file.includes("/~BUN/")) continue;
    return file;
  }
  return undefined;
}
