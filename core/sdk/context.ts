import { AsyncLocalStorage } from "node:async_hooks";
import type { WeirClient } from "../client/index.ts";
import type { StateProposal } from "../model/index.ts";
import type { Flow } from "./flow.ts";
import { consoleLogger, type Logger } from "./logger.ts";

/** Where a running flow reports its task runs; the engine supplies one (API-backed or local). */
export interface Reporter {
  taskRunStarted(t: { id: string; name: string; taskKey: string }): void;
  taskRunState(id: string, state: StateProposal): void;
}

export interface RunContext {
  flowRunId: string | null;
  flowName: string;
  log: Logger;
  signal: AbortSignal;
  reporter: Reporter | null;
  /** Set while a task body runs, so its log lines are attributed to it. */
  taskRunId?: string;
  /** The API client the run reports with (tracked runs): runDeployment() uses it too. */
  client?: WeirClient;
  /** Runs a flow called inside this run as a tracked subflow run (tracked runs only). */
  subflow?: (flow: Flow, params: Record<string, unknown>) => Promise<unknown>;
}

export const runContext = new AsyncLocalStorage<RunContext>();

export function currentContext(): RunContext | undefined {
  return runContext.getStore();
}

/** The logger of the current flow or task run; plain console output outside one. */
export function currentLogger(): Logger {
  return runContext.getStore()?.log ?? consoleLogger;
}
