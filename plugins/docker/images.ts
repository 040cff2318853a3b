import { WeirError } from "../../core/model/index.ts";
import { type ContextEntry, tarStream } from "./context.ts";
import { DockerApiError, type DockerEngine, type DockerMessage } from "./engine.ts";

// Building, tagging, pushing and pulling images through the Engine API, with the daemon's
// progress turned into log lines and progress updates, and its failures into messages that say
// which step, which registry and why.

/** Registry log-in, as a docker-registry-credentials block holds it. */
export interface RegistryCredentials {
  username: string;
  password: string;
  registry_url: string;
  reauth?: boolean;
}

export interface Reporter {
  log(line: string): void;
  progress(key: string, status: string, detail?: string): void;
  signal?: AbortSignal;
}

// Docker's reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest], the path
// in lowercase letters and digits joined by '.', '_', '__' or dashes.
// A first part is a host only with a dot, a port or as localhost (else it is a path part).
const LABEL = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST = `(?:(?:localhost|${LABEL}(?:\\.${LABEL})+)(?::[0-9]+)?|${LABEL}:[0-9]+)`;
const PART = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const NAME = `(?:${HOST}/)?${PART}(?:/${PART})*`;
/** An image name without tag (`registry.example.com/team/flows`). */
export const IMAGE_NAME = new RegExp(`^${NAME}$`);
/** A whole image reference: name, optional tag, optional digest. */
export const IMAGE_REFERENCE = new RegExp(
  `^${NAME}(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

/** The registry an image name lives in: its first part when that is a host, else Docker Hub. */
export function registryOf(image: string): string {
  const first = image.split("/")[0]!;
  return image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
    ? first
    : "docker.io";
}

/** `name:tag` split at the tag (a port's colon is not a tag's); the tag is undefined when absent. */
export function splitTag(image: string): { name: string; tag: string | undefined } {
  const at = image.indexOf("@");
  if (at >= 0) return { name: image.slice(0, at), tag: undefined };
  const colon = image.lastIndexOf(":");
  return colon > image.lastIndexOf("/")
    ? { name: image.slice(0, colon), tag: image.slice(colon + 1) }
    : { name: image, tag: undefined };
}

const bare = (url: string) => url.replace(/^https?:\/\//, "").replace(/\/+$/, "");

/** base64url with padding, as the daemon's Go decoder (base64.URLEncoding) wants it. */
const b64 = (value: unknown) =>
  Buffer.from(JSON.stringify(value)).toString("base64").replaceAll("+", "-").replaceAll("/", "_");

/** The X-Registry-Auth header for a push or pull (Docker wants one even when empty). */
export function authHeader(creds: RegistryCredentials | null | undefined): Record<string, string> {
  const body = creds
    ? { username: creds.username, password: creds.password, serveraddress: bare(creds.registry_url) }
    : {};
  return { "X-Registry-Auth": b64(body) };
}

/** What the daemon says when it could not reach a registry at all (not a refusal). */
const UNREACHABLE = /no such host|dial tcp|connection refused|i\/o timeout|network is unreachable/;

/** Checks a log-in with the registry first, so a wrong password is said plainly, before any work. */
export async function login(engine: DockerEngine, creds: RegistryCredentials, signal?: AbortSignal) {
  try {
    await engine.json("POST", "/auth", {
      body: { username: creds.username, password: creds.password, serveraddress: bare(creds.registry_url) },
      signal,
      what: `log in to ${bare(creds.registry_url)} as ${creds.username}`,
    });
  } catch (err) {
    if (err instanceof DockerApiError) {
      if (UNREACHABLE.test(err.apiMessage.toLowerCase()))
        throw new WeirError(
          "FAILED",
          `cannot reach registry ${bare(creds.registry_url)} to log in as "${creds.username}": ${err.apiMessage} (check the docker-registry-credentials block's registry_url, or that this machine can reach it)`,
        );
      // The daemon answers 500 and names the registry's own status in its message.
      const status = /\b(40[0-9])\b/.exec(err.apiMessage)?.[1] ?? String(err.status);
      throw new WeirError(
        "FAILED",
        `registry ${bare(creds.registry_url)} refused the log-in of user "${creds.username}" (${status}): ${err.apiMessage} (check the docker-registry-credentials block)`,
      );
    }
    throw err;
  }
}

/** Why a registry refused, with the status it stands for and what to do. */
function refusal(
  registry: string,
  message: string,
  what: string,
  withCredentials: boolean,
  /** Where credentials go: a push step's `credentials`, or a run's `registry_credentials`. */
  giveThem: string,
): WeirError {
  const m = message.toLowerCase();
  if (UNREACHABLE.test(m))
    return new WeirError(
      "FAILED",
      `${what}: cannot reach registry ${registry}: ${message} (check the image name's registry, or that this machine can reach it)`,
    );
  const [status, fix] =
    m.includes("unauthorized") || m.includes("authentication required") || m.includes("no basic auth")
      ? [
          "401",
          withCredentials
            ? "the registry did not accept the credentials given: check the docker-registry-credentials block's user, password and registry_url"
            : `${giveThem} {{ weir.blocks.docker-registry-credentials.NAME }}, with a user the registry knows`,
        ]
      : m.includes("denied") || m.includes("forbidden")
        ? [
            "403",
            "the user may not write this repository; check its permissions, or the image name's namespace",
          ]
        : m.includes("not found") || m.includes("name unknown") || m.includes("manifest unknown")
          ? ["404", "check the image name and that the repository exists"]
          : ["", ""];
  return new WeirError(
    "FAILED",
    `${what}: registry ${registry} refused${status ? ` (${status})` : ""}: ${message}${fix ? ` (${fix})` : ""}`,
  );
}

export interface BuildOptions extends Reporter {
  entries: ContextEntry[];
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  /** `name:tag` the image gets. */
  tag: string;
  /** More build parameters of the Engine API (nocache, pull, platform, target...). */
  query?: Record<string, string | number | boolean | undefined>;
  labels?: Record<string, string>;
  buildargs?: Record<string, string>;
  /** Log-ins for base images the build pulls. */
  credentials?: RegistryCredentials | null;
}

/** Builds an image from a context; resolves with its id. */
export async function buildImage(engine: DockerEngine, o: BuildOptions): Promise<string> {
  const registryConfig = o.credentials
    ? {
        [bare(o.credentials.registry_url)]: {
          username: o.credentials.username,
          password: o.credentials.password,
        },
      }
    : {};
  const res = await engine.request("POST", "/build", {
    query: {
      t: o.tag,
      dockerfile: o.dockerfile,
      rm: true,
      forcerm: true,
      labels: o.labels ? JSON.stringify(o.labels) : undefined,
      buildargs: o.buildargs ? JSON.stringify(o.buildargs) : undefined,
      ...o.query,
    },
    body: tarStream(o.entries, o.signal),
    headers: {
      "content-type": "application/x-tar",
      "X-Registry-Config": b64(registryConfig),
    },
    signal: o.signal,
    what: `build ${o.tag}`,
  });
  let imageId: string | undefined;
  let step = "";
  const recent: string[] = [];
  for await (const msg of engine.messages(res)) {
    if (msg.stream) {
      // Output of RUN steps comes with terminal colours: text only here.
      const text = msg.stream.replace(/\x1b\[[0-9;]*m/g, "");
      for (const line of text.split("\n").map((l) => l.trimEnd())) {
        if (!line) continue;
        if (/^Step \d+\/\d+ : /.test(line)) {
          step = line;
          recent.length = 0;
        } else {
          recent.push(line);
          if (recent.length > 10) recent.shift();
        }
        const built = /^Successfully built ([0-9a-f]+)$/.exec(line);
        if (built) imageId ??= built[1];
        o.progress("", line);
      }
    }
    if (msg.status) pullProgress(o, msg);
    if (msg.aux?.ID) imageId = msg.aux.ID;
    const error = msg.error ?? msg.errorDetail?.message ?? msg.message;
    if (error) {
      let text = `the build of ${o.tag} failed${step ? ` at "${step}"` : ""}: ${error.trim()}`;
      if (/denied/i.test(error))
        text +=
          " (Docker reported access denied: the base image may need credentials, or may not exist under that name)";
      if (recent.length) text += `\nlast lines of its output:\n  ${recent.join("\n  ")}`;
      throw new WeirError("FAILED", text);
    }
  }
  if (!imageId) throw new WeirError("FAILED", `Docker did not return an image ID for ${o.tag}`);
  return imageId;
}

function pullProgress(r: Reporter, msg: DockerMessage): void {
  if (!msg.status) return;
  r.progress(msg.id ?? "", msg.status, msg.progress);
}

/** Gives an image another `name:tag`. */
export async function tagImage(
  engine: DockerEngine,
  image: string,
  name: string,
  tag: string,
): Promise<void> {
  await engine.request("POST", `/images/${encodeURIComponent(image)}/tag`, {
    query: { repo: name, tag },
    what: `tag ${image} as ${name}:${tag}`,
  });
}

/** Pushes `name:tag`; the registry's refusal is said with its reason. */
export async function pushImage(
  engine: DockerEngine,
  name: string,
  tag: string,
  creds: RegistryCredentials | null | undefined,
  r: Reporter,
): Promise<{ digest?: string }> {
  const registry = registryOf(name);
  const what = `push of ${name}:${tag}`;
  let res: Response;
  try {
    res = await engine.request("POST", `/images/${encodeURIComponent(name)}/push`, {
      query: { tag },
      headers: authHeader(creds),
      signal: r.signal,
      what,
    });
  } catch (err) {
    if (err instanceof DockerApiError && err.status === 404)
      throw new WeirError(
        "NOT_FOUND",
        `${what}: there is no image ${name}:${tag} on this daemon (build it first)`,
      );
    throw err;
  }
  let digest: string | undefined;
  for await (const msg of engine.messages(res)) {
    const error = msg.error ?? msg.errorDetail?.message;
    if (error) throw refusal(registry, error.trim(), what, !!creds, "give the push step credentials:");
    if (msg.aux?.Digest) digest = msg.aux.Digest;
    if (msg.status) {
      if (msg.id) r.progress(msg.id, msg.status, msg.progress);
      else r.progress("", msg.status);
    }
  }
  return { digest };
}

/** Pulls an image; a missing one or a refusal is said with the registry's reason. */
export async function pullImage(
  engine: DockerEngine,
  image: string,
  creds: RegistryCredentials | null | undefined,
  r: Reporter,
): Promise<void> {
  const { name, tag } = splitTag(image);
  const what = `pull of ${image}`;
  let res: Response;
  try {
    res = await engine.request("POST", "/images/create", {
      query: { fromImage: name, tag: tag ?? "latest" },
      headers: authHeader(creds),
      signal: r.signal,
      what,
    });
  } catch (err) {
    if (err instanceof DockerApiError)
      throw refusal(
        registryOf(image),
        err.apiMessage,
        what,
        !!creds,
        "set the registry_credentials job variable (the deployment's job_variables or the pool's template) to",
      );
    throw err;
  }
  for await (const msg of engine.messages(res)) {
    const error = msg.error ?? msg.errorDetail?.message;
    if (error)
      throw refusal(
        registryOf(image),
        error.trim(),
        what,
        !!creds,
        "set the registry_credentials job variable (the deployment's job_variables or the pool's template) to",
      );
    pullProgress(r, msg);
  }
}
