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
 * A JSON text with every secret in its strings (values and keys) replaced by ***. The text is
 * parsed and written again only when a secret may be in it, and only strings change, so ids,
 * numbers and the text's structure never do.
 */
export function scrubJson(text: string, secrets: readonly string[] = []): string {
  const present = secrets.filter((s) => s.length >= 3 && text.includes(JSON.stringify(s).slice(1, -1)));
  if (present.length === 0) return text;
  return JSON.stringify(scrubStrings(JSON.parse(text), present));
}

/** A JSON value (a state with its data, task runs) with every secret in its strings replaced by ***. */
export function scrubValue<T>(value: T, secrets: readonly string[] = []): T {
  const present = secrets.filter((s) => s.length >= 3);
  if (present.length === 0 || value === undefined) return value;
  return scrubStrings(value, present) as T;
}

function scrubStrings(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === "string") return scrub(value, secrets);
  if (value === null || typeof value !== "object" || depth > 200) return value;
  if (Array.isArray(value)) return value.map((v) => scrubStrings(v, secrets, depth + 1));
  // Plain data only (what JSON carries): other objects (a Date) are left as they are.
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
    return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [scrub(k, secrets), scrubStrings(v, secrets, depth + 1)]),
  );
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
  // A step's log line goes below its progress block on a terminal, never over it.
  const line = (a: unknown[]) => {
    o.progress?.interrupt?.();
    return a.map((x) => (typeof x === "string" ? clean(x) : x));
  };
  const log: Logger = {
    debug: (...a) => o.log.debug(...line(a)),
    info: (...a) => o.log.info(...line(a)),
    warning: (...a) => o.log.warning(...line(a)),
    warn: (...a) => o.log.warning(...line(a)),
    error: (...a) => o.log.error(...line(a)),
    critical: (...a) => o.log.critical(...line(a)),
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
