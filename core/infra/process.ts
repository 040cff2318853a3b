import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { splitCommand } from "../model/index.ts";
import { defineInfrastructure, type InfraExit, type InfraHandle } from "./infrastructure.ts";
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

/** Each flow run in its own `weir execute <id>` child process. */
export const processInfrastructure = defineInfrastructure({
  type: "process",
  description: "each flow run as a process on the agent's machine",
  jobVariables: ProcessVariables,
  async launch(run, config, ctx): Promise<InfraHandle> {
    // Each run starts in a folder of its own (Prefect's process worker does the same), removed
    // when it ends, unless working_dir names one: pull steps that download or clone code then
    // never meet another run's files.
    const explicit = config.working_dir ?? undefined;
    const cwd = explicit ?? mkdtempSync(join(tmpdir(), `weir-run-${run.id.slice(-12)}-`));
    const cleanup = () => {
      if (!explicit) rmSync(cwd, { recursive: true, force: true });
    };
    const argv = config.command ? splitCommand(config.command) : [...ctx.command, "execute", run.id];
    let child: ReturnType<typeof Bun.spawn>;
    try {
      child = Bun.spawn(argv, {
        env: {
          ...process.env,
          ...stringEnv(config.env),
          WEIR_API_URL: ctx.apiUrl,
          WEIR_FLOW_RUN_ID: run.id,
          // The claim's holder: the run's state reports carry it, and the server refuses them
          // once the claim is someone else's (see setFlowRunState).
          WEIR_AGENT_ID: run.agent_id ?? "",
          // `weir execute` watches this process and stops when it is gone (see watchParent).
          WEIR_AGENT_PID: String(process.pid),
        },
        cwd,
        stdin: "ignore",
        stdout: config.stream_output ? "inherit" : "ignore",
        stderr: config.stream_output ? "inherit" : "ignore",
      });
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
        child.kill("SIGTERM");
        clearTimeout(killTimer);
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
