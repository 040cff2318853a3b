// The contract every plugin's steps keep, as one test suite each plugin runs:
// - arguments are refused at deploy with file:line:column (unknown, missing, wrong type);
// - a secret the step is given never appears in its output or its error;
// - cancellation is honoured: a step stops promptly when its run is cancelled.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import type { Plugin } from "../../core/plugin/index.ts";
import { loadProject } from "../../core/project/index.ts";
import { makeLogger } from "../../core/sdk/logger.ts";
import { runSteps } from "../../core/steps/index.ts";
import { registry, tempDir } from "../helpers.ts";

export interface StepCase {
  /** Arguments that make the step fail while it holds `secret` (in an argument or a credentials block). */
  failing(dir: string): Promise<Failing> | Failing;
  /** Arguments under which the step works long enough to be cancelled; omit for steps that are instant. */
  slow?(dir: string): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Environment the slow case runs with, over the process's (DOCKER_HOST of a server that never answers). */
  slowEnv?: Record<string, string>;
}

interface Failing {
  args: Record<string, unknown>;
  secret: string;
  /** Environment over the process's. */
  env?: Record<string, string>;
}

/** Runs one step the way a run does; returns its error message (or "no error") and its log lines. */
async function runOne(
  name: string,
  args: Record<string, unknown>,
  dir: string,
  secrets: string[],
  signal = new AbortController().signal,
  env: Record<string, string> = {},
): Promise<{ error: string; lines: string[] }> {
  const lines: string[] = [];
  const log = makeLogger((_level, message) => lines.push(message));
  try {
    await runSteps([{ [name]: args }], {
      registry,
      env: { ...process.env, ...env },
      cwd: dir,
      log,
      signal,
      secrets: [...secrets],
    });
    return { error: "no error", lines };
  } catch (err) {
    return { error: (err as Error).message, lines };
  }
}

export function stepContract(plugin: Plugin, cases: Record<string, StepCase>): void {
  describe(`plugin ${plugin.name} keeps the step contract`, () => {
    test("every step has a case in this suite", () => {
      expect(Object.keys(cases).sort()).toEqual(plugin.steps.map((s) => s.name).sort());
    });

    for (const step of plugin.steps) {
      const c = cases[step.name];
      if (!c) continue;
      const entries = (step.args as unknown as { entries?: Record<string, v.GenericSchema> }).entries ?? {};
      const required = Object.keys(entries).filter((k) => !v.safeParse(entries[k]!, undefined).success);

      test(`${step.name}: arguments are refused at deploy with their position`, () => {
        using dir = tempDir();
        const file = join(dir.path, "weir.yaml");
        const first = Object.keys(entries)[0]!;
        writeFileSync(
          file,
          `pull:\n  - ${step.name}:\n      not_an_argument: 1\n      ${first}: [1, 2]\ndeployments:\n  - name: d\n    entrypoint: f.ts:f\n`,
        );
        let message = "";
        try {
          loadProject(file, { cwd: dir.path, registry });
        } catch (err) {
          message = (err as Error).message;
        }
        expect(message).toContain(
          `weir.yaml:3:7: pull step 1 (${step.name}): unknown argument "not_an_argument"`,
        );
        expect(message).toContain(`weir.yaml:4:7: pull step 1 (${step.name}): argument "${first}": `);
        for (const key of required.filter((k) => k !== first))
          expect(message).toContain(`pull step 1 (${step.name}): argument "${key}" is required`);
        // Prefect's names for the step check the same way
        for (const alias of step.aliases ?? []) expect(registry.step(alias)).toBe(step);
      });

      test(`${step.name}: a secret it holds never shows in its output or error`, async () => {
        using dir = tempDir();
        const { args, secret, env } = await c.failing(dir.path);
        const { error, lines } = await runOne(step.name, args, dir.path, [secret], undefined, env);
        expect(error).not.toBe("no error");
        expect(error).not.toContain(secret);
        for (const l of lines) expect(l).not.toContain(secret);
      });

      if (c.slow) {
        test(`${step.name}: stops promptly when its run is cancelled`, async () => {
          using dir = tempDir();
          const args = await c.slow!(dir.path);
          const stop = new AbortController();
          setTimeout(() => stop.abort(), 200);
          // Promptly means within this test's own limit, far below the step's natural length.
          const { error } = await runOne(step.name, args, dir.path, [], stop.signal, c.slowEnv);
          expect(error).not.toBe("no error");
        }, 10_000);
      }
    }
  });
}

/** A TCP server that accepts connections and never answers: a step talking to it hangs until cancelled. */
export function silentServer(): { url: string; stop(): void } {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
