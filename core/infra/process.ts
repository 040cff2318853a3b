import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import * as v from "valibot";
import { type Deployment, describeError, type FlowRun, requireInside, splitCommand } from "../model/index.ts";
import {
  defineInfrastructure,
  type InfraExit,
  type InfraHandle,
  runVariables,
  type WarmOptions,
} from "./infrastructure.ts";
import { envVariable, labelsVariable, nameVariable, variable } from "./job-variables.ts";

/** Prefect's process worker variables (the same names, so its job_variables work unchanged). */
const ProcessVariables = v.object({
  name: nameVariable,
  env: envVariable,
  labels: labelsVariable,
  command: variable(
    v.optional(v.nullable(v.string())),
    "Command",
    "The command that starts the flow run. Leave it blank: the agent starts `weir execute` with the run's id.",
  ),
  stream_output: variable(
    v.optional(v.boolean(), true),
    "Stream Output",
    "Print the flow run's output in the agent's own output.",
  ),
  working_dir: variable(
    v.optional(v.nullable(v.string())),
    "Working Directory",
    "The folder the flow run starts in. Without it each run gets an empty temporary folder of its own, removed when it ends.",
  ),
});

/**
 * Variables a process reads as its runtime starts (Bun's and Node's options, the dynamic loader's,
 * the allocator's): setting them in an already started executor would change nothing, so a run
 * whose `env` sets one gets a process of its own started with them.
 */
const RUNTIME_START = /^(BUN_|NODE_|LD_|DYLD_|MALLOC_|GLIBC_TUNABLES$|TZ$)/;

/** The names in a run's `env` job variable that only take effect when a process starts. */
export function runtimeStartVariables(env: Record<string, unknown> | null | undefined): string[] {
  return Object.keys(env ?? {}).filter((k) => RUNTIME_START.test(k));
}

/**
 * JavaScriptCore compiles a function with its baseline JIT once it has run ~500 times. A `weir
 * execute` process passes that mark in code it runs a few hundred times and never again (its
 * modules' setup, the engine's first run), so that compiling is wasted on a process that exits
 * with its run: at 3,000 an executor spends ~5 ms less CPU (of ~65; see docs/decisions.md), and a
 * flow's hot loop is compiled a few thousand iterations later (10 × fib(33): 204 ms either way).
 * A value in the agent's environment or the run's `env` wins.
 */
export const EXECUTOR_JIT: Record<string, string> = { BUN_JSC_thresholdForJITAfterWarmUp: "3000" };

/**
 * What a server reads at its start and no flow may see: the database's address and password,
 * the admin token, the secret keys. A flow gets its own token, never these, even from an agent
 * started in a shell that exports them (or the agent inside `weir server`).
 */
export const SERVER_SECRETS = [
  "WEIR_DATABASE_URL",
  "WEIR_DATABASE_AUTH_TOKEN",
  "WEIR_ADMIN_TOKEN",
  "WEIR_SECRET_KEY",
  "WEIR_NEW_SECRET_KEY",
] as const;
const WITHHELD: Record<string, undefined> = Object.fromEntries(SERVER_SECRETS.map((k) => [k, undefined]));

/** Removes SERVER_SECRETS from this process's environment (an agent's flows may run in it). */
export function forgetServerSecrets(): void {
  for (const k of SERVER_SECRETS) delete process.env[k];
}

/** What a warm executor is handed on stdin: the run, its environment and its folder. */
export interface Handoff {
  id: string;
  /** Variables to set; null unsets one. */
  env: Record<string, string | null>;
  cwd: string;
  /** The run and its deployment as the claim answered them: the executor need not read them. */
  execution?: { flow_run: FlowRun; deployment: Deployment | null };
  /** What the server said it accepts (see LaunchContext.accepts). */
  accepts?: string[];
}

/**
 * `weir execute --warm` processes started ahead of the runs they take: the runtime, the engine
 * and the plugins are loaded while the agent waits for work, so a run pays only for its own code.
 * Each takes one run and exits with it (a process per run, as without prewarming); the agent
 * starts a replacement as soon as one is taken. An idle one exits when its stdin closes (the
 * agent stopped or died).
 */
class WarmExecutors {
  readonly #idle: ReturnType<typeof spawnWarm>[] = [];
  #closed = false;

  constructor(private readonly opts: WarmOptions) {
    this.#fill();
  }

  #fill(): void {
    while (!this.#closed && this.#idle.length < this.opts.count) {
      let child: ReturnType<typeof spawnWarm>;
      try {
        child = spawnWarm(this.opts);
      } catch (err) {
        this.opts.log(`Could not start a warm executor (runs start cold): ${String(err)}`);
        return;
      }
      this.#idle.push(child);
      void child.exited.then(() => {
        const i = this.#idle.indexOf(child);
        if (i >= 0) this.#idle.splice(i, 1);
      });
    }
  }

  get ready(): number {
    return this.#idle.filter((child) => child.exitCode === null).length;
  }

  /** An idle executor, or null when none is ready; a replacement starts right after. */
  take(): ReturnType<typeof spawnWarm> | null {
    let child = this.#idle.shift();
    while (child && child.exitCode !== null) child = this.#idle.shift();
    setTimeout(() => this.#fill(), 0);
    return child ?? null;
  }

  close(): void {
    this.#closed = true;
    for (const child of this.#idle.splice(0)) child.stdin.end();
  }
}

function spawnWarm(o: WarmOptions) {
  return Bun.spawn([...o.command, "execute", "--warm"], {
    // Not the agent's token: the run's own comes with the hand-off.
    env: {
      ...EXECUTOR_JIT,
      ...process.env,
      ...WITHHELD,
      WEIR_API_KEY: undefined,
      WEIR_API_URL: o.apiUrl,
      WEIR_AGENT_PID: String(process.pid),
    },
    stdin: "pipe",
    stdout: "inherit",
    stderr: "inherit",
  });
}

const removals = new Set<Promise<void>>();

/** Resolves when every run folder whose removal has begun is gone (an agent stopping waits). */
export async function runFoldersRemoved(): Promise<void> {
  while (removals.size > 0) await Promise.all([...removals]);
}

/**
 * A process run's working folder: `working_dir` when set (it must be one the agent allows), else a
 * new empty folder of its own, removed by `cleanup` when the run ends.
 */
export function runFolder(
  run: FlowRun,
  workingDir: string | null | undefined,
  allowedDirs: string[],
): { cwd: string; cleanup: () => void } {
  if (workingDir) {
    requireInside(workingDir, allowedDirs, `working_dir ${workingDir}`);
    return { cwd: workingDir, cleanup: () => {} };
  }
  const cwd = mkdtempSync(join(tmpdir(), `weir-run-${run.id.slice(-12)}-`));
  // Removed off the event loop: a synchronous rm of even an empty folder took 0.7-6 ms here,
  // blocking the agent's claims and the other runs inside it. An agent that stops waits for them.
  const cleanup = () => {
    const removal = rm(cwd, { recursive: true, force: true })
      .catch(() => {})
      .finally(() => removals.delete(removal));
    removals.add(removal);
  };
  return { cwd, cleanup };
}

/** Each flow run in its own `weir execute <id>` child process. */
export const processInfrastructure = defineInfrastructure({
  type: "process",
  description: "each flow run as a process on the agent's machine",
  jobVariables: ProcessVariables,
  warm: (opts) => new WarmExecutors(opts),
  async launch(run, config, ctx): Promise<InfraHandle> {
    // Each run starts in a folder of its own (Prefect's process worker does the same), removed
    // when it ends, unless working_dir names one: pull steps that download or clone code then
    // never meet another run's files.
    const { cwd, cleanup } = runFolder(run, config.working_dir, ctx.allowedDirs);
    const runEnv = {
      ...stringEnv(config.env),
      ...runVariables(run, ctx),
      WEIR_ALLOWED_DIRS: JSON.stringify(ctx.allowedDirs),
      // A folder made for the run: an executor whose agent dies removes it itself (the agent
      // that would have cannot), so code pulled into it does not pile up in the temp folder.
      WEIR_RUN_FOLDER: config.working_dir ? undefined : cwd,
    };
    // A warm executor takes the run unless the run needs a process started its own way.
    const warm =
      ctx.warmed instanceof WarmExecutors &&
      !config.command &&
      config.stream_output !== false &&
      runtimeStartVariables(config.env).length === 0
        ? ctx.warmed.take()
        : null;
    let child: Subprocess | null = null;
    try {
      if (warm) {
        const handoff: Handoff = {
          id: run.id,
          env: Object.fromEntries(Object.entries(runEnv).map(([k, val]) => [k, val ?? null])),
          cwd,
          execution: ctx.deployment ? { flow_run: run, deployment: ctx.deployment } : undefined,
          accepts: ctx.accepts,
        };
        try {
          warm.stdin.write(`${JSON.stringify(handoff)}\n`);
          warm.stdin.end();
          child = warm;
        } catch (err) {
          // It died since it was started (not yet reaped, so it looked alive): the run starts
          // cold instead of crashing for it.
          ctx.log?.(
            `A prewarmed executor was gone (${describeError(err)}); starting flow run ${run.id} cold`,
          );
          warm.kill();
        }
      }
      if (!child) {
        const argv = config.command ? splitCommand(config.command) : [...ctx.command, "execute", run.id];
        child = Bun.spawn(argv, {
          env: {
            ...(config.command ? {} : EXECUTOR_JIT),
            ...process.env,
            ...WITHHELD,
            ...runEnv,
            // `weir execute` watches this process and stops when it is gone (see watchParent).
            WEIR_AGENT_PID: String(process.pid),
          },
          cwd,
          stdin: "ignore",
          stdout: config.stream_output ? "inherit" : "ignore",
          stderr: config.stream_output ? "inherit" : "ignore",
        });
      }
    } catch (err) {
      cleanup();
      throw err;
    }
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const exited: Promise<InfraExit> = child.exited.then(
      (code) => {
        clearTimeout(killTimer);
        cleanup();
        return child.signalCode
          ? { code: null, reason: `was killed by ${child.signalCode}` }
          : { code, reason: null };
      },
      (err) => {
        cleanup();
        return { code: null, reason: String(err) };
      },
    );
    return {
      id: `process ${child.pid}`,
      exited,
      kill(graceMs) {
        clearTimeout(killTimer);
        // No grace (a second Ctrl-C): killed at once, with no SIGTERM its engine could report on
        // first.
        if (graceMs <= 0) {
          child.kill("SIGKILL");
          return;
        }
        child.kill("SIGTERM");
        killTimer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      },
    };
  },
});

/**
 * The `env` job variable as the strings a process takes: numbers and booleans (common in YAML)
 * as their text; a null value unsets a variable the agent has (as in Prefect).
 */
export function stringEnv(
  env: Record<string, unknown> | null | undefined,
): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(env ?? {}).map(([k, val]) => [
      k,
      val === null ? undefined : typeof val === "string" ? val : JSON.stringify(val),
    ]),
  );
}
