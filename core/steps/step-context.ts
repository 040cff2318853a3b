import { WeirError } from "../model/index.ts";
import type { CommandResult, RunOptions, StepContext } from "../plugin/index.ts";
import type { Logger } from "../sdk/logger.ts";
import { lineProgress, type ProgressSink } from "./progress.ts";

/** Replaces every secret (3 characters or more) in a text with ***. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.replaceAll(s, "***");
  return out;
}

/**
 * A JSON text with every secret replaced by ***: a secret appears in it as JSON escapes it (as
 * itself, when it holds no quote, backslash or control character), so that form is replaced and
 * the text stays JSON.
 */
export function scrubJson(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.replaceAll(JSON.stringify(s).slice(1, -1), "***");
  return out;
}

/** A JSON value (a state with its data, task runs) with every secret in its strings replaced by ***. */
export function scrubValue<T>(value: T, secrets: readonly string[] = []): T {
  if (!secrets.some((s) => s.length >= 3) || value === undefined) return value;
  const text = JSON.stringify(value);
  const clean = scrubJson(text, secrets);
  return clean === text ? value : (JSON.parse(clean) as T);
}

export interface StepContextOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  log: Logger;
  signal: AbortSignal;
  /** Shared with the caller: secrets the steps resolve or derive are added here. */
  secrets: string[];
  /** Moves the steps that follow (and the process) into another folder. */
  chdir: (dir: string) => void;
  /** Where progress goes (default: plain lines in the log). */
  progress?: ProgressSink;
}

/** The StepContext plugins get: a command runner, fetch, log and scrubbing, all bound to one run. */
export function stepContext(o: StepContextOptions): StepContext {
  const clean = (text: string) => scrub(text, o.secrets);
  const log: Logger = {
    debug: (...a) => o.log.debug(...a.map((x) => (typeof x === "string" ? clean(x) : x))),
    info: (...a) => o.log.info(...a.map((x) => (typeof x === "string" ? clean(x) : x))),
    warning: (...a) => o.log.warning(...a.map((x) => (typeof x === "string" ? clean(x) : x))),
    warn: (...a) => o.log.warning(...a.map((x) => (typeof x === "string" ? clean(x) : x))),
    error: (...a) => o.log.error(...a.map((x) => (typeof x === "string" ? clean(x) : x))),
    critical: (...a) => o.log.critical(...a.map((x) => (typeof x === "string" ? clean(x) : x))),
  };
  const progress = o.progress ?? lineProgress(log);
  return {
    cwd: o.cwd,
    env: o.env,
    signal: o.signal,
    log,
    fetch: ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
      fetch(input, {
        ...init,
        signal: init?.signal ? AbortSignal.any([init.signal, o.signal]) : o.signal,
      })) as typeof fetch,
    scrub: clean,
    addSecret: (value: string) => {
      if (value && !o.secrets.includes(value)) o.secrets.push(value);
    },
    chdir: o.chdir,
    progress: (key, status, detail) =>
      progress.update(clean(key), clean(status), detail === undefined ? undefined : clean(detail)),
    run: (argv, opts) => runCommand(argv, opts ?? {}, o, log),
  };
}

async function runCommand(
  argv: string[],
  opts: RunOptions,
  o: StepContextOptions,
  log: Logger,
): Promise<CommandResult> {
  const stream = opts.stream !== false;
  // A command line is readable by every user of the machine (ps, /proc): a secret the run
  // resolved must reach a command through its environment instead.
  if (argv.some((a) => o.secrets.some((s) => s.length >= 3 && a.includes(s))))
    throw new WeirError(
      "INVALID",
      `\`${scrub(argv.join(" "), o.secrets)}\` would carry a secret in its arguments, which any user of this machine can read (ps); give it to the command in its environment instead (run_shell_script: env: { NAME: "{{ weir.blocks.secret.NAME }}" }) and let the command read the variable`,
    );
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(argv, {
      cwd: opts.cwd ?? o.cwd,
      env: opts.env ?? o.env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      signal: o.signal,
    });
  } catch (e) {
    throw new WeirError(
      "FAILED",
      `cannot run "${argv[0]}": ${(e as Error).message} (is it installed and on PATH?)`,
    );
  }
  const read = async (s: ReadableStream<Uint8Array>, sink: (line: string) => void) => {
    let text = "";
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of s) {
      const part = decoder.decode(chunk, { stream: true });
      text += part;
      if (!stream) continue;
      pending += part;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const l of lines) sink(l);
    }
    if (stream && pending) sink(pending);
    return text;
  };
  const stopped = new WeirError("FAILED", `"${argv[0]}" was stopped: the run was cancelled`);
  // A cancelled command is killed (spawn's signal); its own children may still hold the output
  // pipes open (git's remote helpers do), so the step does not wait for them to close.
  const cancelled = new Promise<never>((_, reject) => {
    if (o.signal.aborted) reject(stopped);
    o.signal.addEventListener("abort", () => reject(stopped), { once: true });
  });
  const [stdout, stderr, code] = await Promise.race([
    Promise.all([
      read(proc.stdout as ReadableStream<Uint8Array>, (l) => log.info(l)),
      read(proc.stderr as ReadableStream<Uint8Array>, (l) => log.warning(l)),
      proc.exited,
    ]),
    cancelled,
  ]);
  if (o.signal.aborted) throw stopped;
  return { stdout, stderr, code };
}
