import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import dockerignore from "@balena/dockerignore";
import type * as Tar from "tar-stream";
import { ignoreFileFor, type LocalFile, projectFiles } from "../../core/steps/index.ts";

// A build context: the files a Docker build sees, sent to the daemon as one tar stream that is
// written while it is sent (a 1 GiB project never sits in memory).

/** One entry of a build context: a file from disk, some bytes, a folder or a symbolic link. */
export type ContextEntry =
  | { name: string; file: string; size: number; mode?: number; mtime?: Date }
  | { name: string; data: string | Uint8Array; mode?: number }
  | { name: string; dir: true; mode?: number }
  | { name: string; symlink: string };

/**
 * The project's files a build takes. `.dockerignore` applies as Docker applies it (with a
 * Dockerfile of the user's, as the docker CLI would); with a generated Dockerfile the project's
 * ignore file (.weirignore, else .prefectignore) applies too, as for every upload of the project.
 */
export function projectContext(
  root: string,
  opts: { useProjectIgnore: boolean; keep: string[] },
): { files: LocalFile[]; ignoredBy: string[] } {
  const ignoredBy: string[] = [];
  let exclude: ((rel: string, isDir: boolean) => boolean) | undefined;
  const dockerIgnoreFile = join(root, ".dockerignore");
  if (existsSync(dockerIgnoreFile)) {
    const lines = readFileSync(dockerIgnoreFile, "utf8").split(/\r?\n/);
    const ig = dockerignore().add(lines);
    // An exception (!pattern) may take back a file inside an excluded folder: then every folder is entered.
    const exceptions = lines.some((l) => l.trim().startsWith("!"));
    exclude = (rel, isDir) =>
      opts.keep.includes(rel) ? false : isDir && exceptions ? false : ig.ignores(rel);
    ignoredBy.push(".dockerignore");
  }
  const projectIgnore = opts.useProjectIgnore ? ignoreFileFor(root, undefined) : null;
  if (projectIgnore) ignoredBy.push(projectIgnore);
  const files = projectFiles(root, projectIgnore, exclude, false);
  // The Dockerfile is always sent, even when an ignore file leaves it out (as the docker CLI does).
  for (const rel of opts.keep) {
    const abs = join(root, rel);
    if (files.some((f) => f.rel === rel) || !existsSync(abs)) continue;
    const st = statSync(abs);
    files.push({ rel, abs, size: st.size, mode: st.mode & 0o7777, mtime: st.mtime });
  }
  return { files, ignoredBy };
}

/** The entries as a tar stream (ustar with PAX headers for long names), written as it is read. */
export function tarStream(entries: ContextEntry[], signal?: AbortSignal): ReadableStream<Uint8Array> {
  let p: ReturnType<typeof Tar.pack> | undefined;
  let chunks: AsyncIterator<Uint8Array> | undefined;
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async start() {
      // Loaded by the builds that send a context, not by every process that loads the plugins
      // (an executor's start: tar-stream and streamx are ~1 ms of it).
      const { pack } = await import("tar-stream");
      p = pack();
      if (cancelled) p.destroy();
      else fill(p, entries, signal).catch((err) => p!.destroy(err));
      chunks = (p as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    },
    async pull(controller) {
      // An error ends the stream through its controller, never as a rejected pull: the request
      // that was reading it may have gone already, and nothing would handle that rejection.
      try {
        const { value, done } = await chunks!.next();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(err);
      }
    },
    // The reader went away (the daemon refused the build, the request was aborted): stop packing.
    cancel() {
      cancelled = true;
      p?.destroy(); // with no error: nobody reads it any more to hear of one
    },
  });
}

async function fill(p: ReturnType<typeof Tar.pack>, entries: ContextEntry[], signal?: AbortSignal) {
  for (const e of entries) {
    if (signal?.aborted) throw signal.reason ?? new Error("aborted");
    if ("symlink" in e) {
      await added(p, { name: e.name, type: "symlink", linkname: e.symlink });
    } else if ("dir" in e) {
      await added(p, { name: e.name, type: "directory", mode: e.mode ?? 0o755 });
    } else if ("data" in e) {
      const data = typeof e.data === "string" ? Buffer.from(e.data) : Buffer.from(e.data);
      await added(p, { name: e.name, mode: e.mode ?? 0o644 }, data);
    } else {
      const entry = p.entry({
        name: e.name,
        size: e.size,
        mode: e.mode ?? 0o644,
        mtime: e.mtime,
      }) as unknown as Writable;
      const finished = new Promise<void>((resolve, reject) => {
        entry.on("finish", resolve);
        entry.on("error", reject);
      });
      // Awaited below; a read that fails first (the file went away) ends the pack with its own
      // error, which then reaches the entry too: that second report is not one to raise.
      finished.catch(() => {});
      for await (const chunk of Bun.file(e.file).stream()) {
        if (!entry.write(Buffer.from(chunk))) await new Promise<void>((r) => entry.once("drain", () => r()));
      }
      entry.end();
      await finished;
    }
  }
  p.finalize();
}

function added(
  p: ReturnType<typeof Tar.pack>,
  header: Parameters<ReturnType<typeof Tar.pack>["entry"]>[0],
  data?: Buffer,
) {
  return new Promise<void>((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (data) p.entry(header, data, cb);
    else p.entry(header, cb);
  });
}

/** Project files as context entries under a folder of the context. */
export function fileEntries(files: LocalFile[], prefix = ""): ContextEntry[] {
  return files.map((f) => ({
    name: prefix + f.rel,
    file: f.abs,
    size: f.size,
    mode: f.mode,
    mtime: f.mtime,
  }));
}
