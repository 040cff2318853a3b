import type * as v from "valibot";
import type { Infrastructure } from "../infra/index.ts";
import type { BlockType } from "../model/index.ts";
import type { Logger } from "../sdk/logger.ts";

// What a plugin is: one value listing its steps, block types and infrastructure. Weir's
// built-in steps are a plugin too; plugins/index.ts lists the others, and one Registry built from
// them is passed to whatever needs it (deploy, the engine, the server's block types).

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  /** Working directory (default: the step's). */
  cwd?: string;
  /** Environment (default: the step's). */
  env?: Record<string, string | undefined>;
  /** Send each output line to the step's log as it comes (default true). */
  stream?: boolean;
}

/** Everything a step may use; a step reaches for nothing else (no process.env, no Bun.spawn). */
export interface StepContext {
  /** The folder the step runs in (the previous steps' `directory`, else the project's). */
  cwd: string;
  /** The environment the step sees. */
  env: Record<string, string | undefined>;
  /** Aborted when the step must stop (a cancelled run, Ctrl-C): long work listens to it. */
  signal: AbortSignal;
  /** Lines for the run's log (deploy prints them); secrets are scrubbed from them. */
  log: Logger;
  /** Runs a program without a shell; output is scrubbed, and streamed to the log unless told not to. */
  run(argv: string[], opts?: RunOptions): Promise<CommandResult>;
  /** The platform's fetch, cancelled with the step. */
  fetch: typeof fetch;
  /** The text with every secret known to this run replaced by ***. */
  scrub(text: string): string;
  /** Adds a value that must never appear in output or messages (a token the step derived). */
  addSecret(value: string): void;
  /** Moves the steps that follow, and the flow run, into another folder (set_working_directory). */
  chdir(dir: string): void;
  /**
   * Progress of long work, by key (an image layer): redrawn in place on a terminal, otherwise a
   * line when a key's status changes. `detail` ("12MB/40MB") shows on a terminal only.
   */
  progress(key: string, status: string, detail?: string): void;
}

export type StepOutput = Record<string, unknown> | undefined;

export interface StepDefinition<S extends v.GenericSchema = v.GenericSchema> {
  /** Canonical name, `weir.steps.<name>`. */
  name: string;
  /** Other names that resolve to it (Prefect's `prefect_aws.deployments.steps.push_to_s3`...). */
  aliases?: string[];
  /** One line for `weir` help and errors. */
  description: string;
  /**
   * Its arguments (without the reserved `id` and `requires`): checked at deploy for what is known
   * then (placeholders are resolved later) and in full when the step runs.
   */
  args: S;
  run(args: v.InferOutput<S>, ctx: StepContext): Promise<StepOutput>;
  /**
   * What the step would do, for `deploy --dry-run` (which runs no step and asks no server): given
   * its arguments as written (placeholders unresolved) and the folder it would run in.
   */
  describe?(args: Record<string, unknown>, cwd: string): string;
  /**
   * Arguments a file must give, though a stored step without them still runs (one written by an
   * earlier version, where they were optional): required at deploy only.
   */
  requiredAtDeploy?: string[];
}

export interface Plugin {
  name: string;
  steps: StepDefinition[];
  blockTypes: BlockType[];
  /** Python packages whose Prefect steps it provides: a `requires:` naming one is satisfied, not installed. */
  provides?: string[];
  /** Kinds of infrastructure flow runs can run on (work pool types). */
  infrastructure?: Infrastructure[];
}

/** Declares a step; the schema types its arguments. */
export function defineStep<S extends v.GenericSchema>(step: StepDefinition<S>): StepDefinition {
  return step as unknown as StepDefinition;
}

/** Declares a plugin. */
export function definePlugin(plugin: Plugin): Plugin {
  return plugin;
}
