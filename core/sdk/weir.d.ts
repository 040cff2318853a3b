// Type declarations of the "weir" module that flow files import. The binary serves the module
// itself at run time; `weir types` writes this file into a flow project for editors and tsc.
// tests/sdk/types.test.ts type-checks an example flow against it, so it cannot drift silently.
import type * as v from "valibot";

export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warning(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  critical(...args: unknown[]): void;
}

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
  (params: InputOf<S>, ctx?: Partial<FlowContext>): Promise<R>;
}

export declare function flow<S extends v.GenericSchema | undefined = undefined, R = unknown>(
  options: FlowOptions<S>,
  fn: (params: ParamsOf<S>, ctx: FlowContext) => Promise<R> | R,
): Flow<S, R>;

export declare function isFlow(x: unknown): x is Flow;

export interface TaskOptions {
  name: string;
  retries?: number;
  retryDelaySeconds?: number;
}

export type Task<A extends unknown[], R> = ((...args: A) => Promise<R>) & {
  readonly kind: "weir.task";
  readonly options: TaskOptions;
};

export declare function task<A extends unknown[], R>(
  options: TaskOptions,
  fn: (...args: A) => Promise<R> | R,
): Task<A, R>;

/** Logs to the current flow or task run, or to the console outside one. */
export declare const log: Logger;

/** The id of the flow run this code runs in, if any. */
export declare function flowRunId(): string | null;
