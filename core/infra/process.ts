import type { FlowRun } from "../model/index.ts";

export interface LaunchOptions {
  command: string[];
  apiUrl: string;
  /** Extra environment (job variables `env`), on top of the agent's own. */
  env?: Record<string, string>;
  cwd?: string;
}

export interface RunningProcess {
  pid: number;
  exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal: "SIGTERM" | "SIGKILL"): void;
}

/** The process infrastructure: each flow run in its own `weir execute <id>` child process. */
export function launchProcess(run: FlowRun, opts: LaunchOptions): RunningProcess {
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...opts.env,
    WEIR_API_URL: opts.apiUrl,
    WEIR_FLOW_RUN_ID: run.id,
    // `weir execute` watches this process and stops when it is gone (see watchParent).
    WEIR_AGENT_PID: String(process.pid),
  };
  const child = Bun.spawn([...opts.command, "execute", run.id], {
    env,
    cwd: opts.cwd,
    stdin: "ignore",
    stdout: "inherit",
    stderr: "inherit",
  });
  return {
    pid: child.pid,
    exited: child.exited.then((code) => ({
      code: child.signalCode ? null : code,
      signal: child.signalCode ? String(child.signalCode) : null,
    })),
    kill: (signal) => child.kill(signal),
  };
}

/** The `env` job variable as strings (numbers and booleans are common in YAML). */
export function jobEnv(jobVariables: Record<string, unknown>): Record<string, string> {
  const env = jobVariables.env;
  if (!env || typeof env !== "object") return {};
  return Object.fromEntries(
    Object.entries(env as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === "string" ? v : JSON.stringify(v),
    ]),
  );
}
