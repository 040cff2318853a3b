import { WeirError } from "../../core/model/index.ts";

// A small client of the Docker Engine API over its socket (DOCKER_HOST: unix:///path or
// tcp://host:port), with no docker CLI. Paths are unversioned: the daemon answers with its own
// API version, so any daemon from 20.10 on works.

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/** An answer of the daemon that is not a success, with its status and message. */
export class DockerApiError extends WeirError {
  constructor(
    readonly status: number,
    readonly apiMessage: string,
    what: string,
  ) {
    super(status === 404 ? "NOT_FOUND" : status === 409 ? "CONFLICT" : "FAILED", `${what}: ${apiMessage}`);
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON (an object) or raw bytes (a tar stream). */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** What the request is for, for error messages ("create the container"). */
  what?: string;
}

export class DockerEngine {
  readonly host: string;
  readonly #unix: string | undefined;
  readonly #base: string;
  readonly #fetch: typeof fetch;

  constructor(host?: string, fetchImpl: typeof fetch = fetch) {
    this.host = host || DEFAULT_DOCKER_HOST;
    this.#fetch = fetchImpl;
    if (this.host.startsWith("unix://")) {
      this.#unix = this.host.slice("unix://".length);
      this.#base = "http://docker";
    } else if (this.host.startsWith("tcp://") || this.host.startsWith("http://")) {
      this.#base = `http://${this.host.replace(/^(tcp|http):\/\//, "")}`;
    } else {
      throw new WeirError(
        "INVALID",
        `DOCKER_HOST "${this.host}" is not supported: use unix:///path/to/docker.sock or tcp://host:port (TLS and ssh:// are not supported yet)`,
      );
    }
  }

  /** The engine DOCKER_HOST names (the environment given, else the process's). */
  static fromEnv(env: Record<string, string | undefined> = process.env): DockerEngine {
    return new DockerEngine(env.DOCKER_HOST);
  }

  /** One line for "the daemon cannot be reached", naming DOCKER_HOST and what to do. */
  unreachable(cause: unknown): WeirError {
    const code = (cause as { code?: string } | null)?.code;
    const why =
      code === "ENOENT"
        ? `there is no socket at ${this.#unix ?? this.host}`
        : code === "ECONNREFUSED"
          ? "connection refused"
          : code === "EACCES"
            ? "permission denied on the socket (run as a user in the docker group, or as root)"
            : cause instanceof Error
              ? cause.message
              : String(cause);
    return new WeirError(
      "FAILED",
      `cannot reach the Docker daemon at DOCKER_HOST=${this.host} (${why}): start dockerd (for example: dockerd --host ${this.host}), or set DOCKER_HOST to the socket of a running one`,
      { cause },
    );
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = new URL(this.#base + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const raw = opts.body instanceof ReadableStream || opts.body instanceof Uint8Array;
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined && !raw) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers,
        body:
          opts.body === undefined ? undefined : raw ? (opts.body as Uint8Array) : JSON.stringify(opts.body),
        signal: opts.signal,
        // Bun's fetch over a unix socket; streamed request bodies need duplex.
        ...(this.#unix ? { unix: this.#unix } : {}),
        ...(opts.body instanceof ReadableStream ? { duplex: "half" } : {}),
        // Builds and pulls can stay silent for a long time.
        timeout: false,
      } as RequestInit);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw this.unreachable(err);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      let message = text.trim();
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {}
      throw new DockerApiError(res.status, message || res.statusText, opts.what ?? `${method} ${path}`);
    }
    return res;
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Answers that are a stream of JSON messages (build, push, pull progress), one at a time. */
  async *messages(res: Response): AsyncGenerator<DockerMessage> {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl = buffer.indexOf("\n");
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) yield parseMessage(line);
        nl = buffer.indexOf("\n");
      }
    }
    if (buffer.trim()) yield parseMessage(buffer.trim());
  }

  async ping(): Promise<void> {
    await this.request("GET", "/_ping", { what: "ping the daemon" });
  }

  async version(): Promise<{ Version: string; ApiVersion: string; Os: string; Arch: string }> {
    return this.json("GET", "/version", { what: "read the daemon's version" });
  }

  /** The image's details, or undefined when the daemon does not have it. */
  async inspectImage(name: string): Promise<ImageInfo | undefined> {
    try {
      return await this.json<ImageInfo>("GET", `/images/${encodeURIComponent(name)}/json`, {
        what: `inspect image ${name}`,
      });
    } catch (err) {
      if (err instanceof DockerApiError && err.status === 404) return undefined;
      throw err;
    }
  }
}

export interface ImageInfo {
  Id: string;
  RepoTags: string[] | null;
  Size: number;
  Config?: { Labels?: Record<string, string> | null; WorkingDir?: string };
}

/** One message of a progress stream. */
export interface DockerMessage {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
  message?: string;
}

function parseMessage(line: string): DockerMessage {
  try {
    return JSON.parse(line) as DockerMessage;
  } catch {
    return { stream: `${line}\n` };
  }
}

/**
 * The frames of a container's log stream (no TTY): each is an 8-byte header (stream 1 = stdout,
 * 2 = stderr, then a big-endian length) and that many bytes. Yields text line by line.
 */
export async function* logLines(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ stream: "stdout" | "stderr"; line: string }> {
  let buf = new Uint8Array(0);
  const partial = { stdout: "", stderr: "" };
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    const joined = new Uint8Array(buf.length + chunk.length);
    joined.set(buf);
    joined.set(chunk, buf.length);
    buf = joined;
    while (buf.length >= 8) {
      const size = new DataView(buf.buffer, buf.byteOffset, 8).getUint32(4);
      if (buf.length < 8 + size) break;
      const which = buf[0] === 2 ? "stderr" : "stdout";
      partial[which] += decoders[which].decode(buf.subarray(8, 8 + size), { stream: true });
      buf = buf.slice(8 + size);
      let nl = partial[which].indexOf("\n");
      while (nl >= 0) {
        yield { stream: which, line: partial[which].slice(0, nl) };
        partial[which] = partial[which].slice(nl + 1);
        nl = partial[which].indexOf("\n");
      }
    }
  }
  for (const which of ["stdout", "stderr"] as const)
    if (partial[which]) yield { stream: which, line: partial[which] };
}
