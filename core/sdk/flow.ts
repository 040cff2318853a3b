import type * as v from "valibot";
import type { Logger } from "./logger.ts";

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
  /** Runs the body directly (no tracking); used when one flow calls another. */
  (params: InputOf<S>, ctx?: Partial<FlowContext>): Promise<R>;
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
    const { consoleLogger } = await import("./logger.ts");
    return fn(params as ParamsOf<S>, {
      log: ctx?.log ?? consoleLogger,
      signal: ctx?.signal ?? new AbortController().signal,
      flowRunId: ctx?.flowRunId ?? null,
    });
  };
  return Object.assign(call, { kind: "weir.flow" as const, options, fn }) as Flow<S, R>;
}

export function isFlow(x: unknown): x is Flow {
  return typeof x === "function" && (x as { kind?: unknown }).kind === "weir.flow";
}
