import { mkdirSync } from "node:fs";
import { dirname, isAbsolute, normalize, relative, resolve } from "node:path";
import { WeirError } from "../model/index.ts";
import { bytes, ignoreFileFor, projectFiles } from "./project-files.ts";

// Helpers for steps that move many files over the network (the S3 and Azure plugins).

/** `p`, or a rejection as soon as `signal` aborts (Bun's S3 calls take no signal of their own). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new WeirError("FAILED", "cancelled"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new WeirError("FAILED", "cancelled"));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (x) => {
        signal.removeEventListener("abort", onAbort);
        resolve(x);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Runs `op`, retrying failures `retryable` says may pass, with backoff (0.2 s, doubling, at most
 * 3 s); a cancellation ends it at once.
 */
export async function withRetries<T>(
  op: () => Promise<T>,
  signal: AbortSignal,
  retryable: (err: unknown) => boolean,
  attempts = 4,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await abortable(op(), signal);
    } catch (err) {
      if (i >= attempts || signal.aborted || !retryable(err)) throw err;
      await Bun.sleep(Math.min(200 * 2 ** (i - 1), 3000));
    }
  }
}

/** Runs `work` over `items` with at most `limit` at once; the first failure stops the rest. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (next < items.length && failed === null) {
      if (signal.aborted) throw signal.reason ?? new Error("cancelled");
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== null) throw failed;
}

/**
 * Streams a download to `root/rel`, creating its folders. A name that would land outside `root`
 * (an object key such as "../../etc/x") is refused.
 */
export async function saveUnder(
  root: string,
  rel: string,
  body: () => Promise<AsyncIterable<Uint8Array>> | AsyncIterable<Uint8Array>,
  what: string,
): Promise<void> {
  const dest = resolve(root, normalize(rel));
  if (isAbsolute(rel) || relative(root, dest).startsWith(".."))
    throw new WeirError("FAILED", `${what} points outside the working directory`);
  mkdirSync(dirname(dest), { recursive: true });
  const out = Bun.file(dest).writer();
  try {
    for await (const chunk of await body()) out.write(chunk);
  } finally {
    await out.end();
  }
}

/** What a dry run says an upload step would send: files and size, and which ignore file applies. */
export function describeUpload(cwd: string, ignoreFile: unknown, to: string): string {
  const applied = ignoreFileFor(
    cwd,
    typeof ignoreFile === "string" || ignoreFile === null ? ignoreFile : undefined,
  );
  const files = projectFiles(cwd, applied);
  const size = files.reduce((a, f) => a + f.size, 0);
  return `would upload ${files.length} file(s), ${bytes(size)}, from ${cwd} to ${to} (${applied ? `leaving out what ${applied} lists` : "no ignore file: everything"}; what is there unchanged is skipped)`;
}
