import * as v from "valibot";
import {
  defineInfrastructure,
  envVariable,
  type InfraExit,
  type InfraHandle,
  labelsVariable,
  nameVariable,
  runVariables,
  stringEnv,
  variable,
} from "../../core/infra/index.ts";
import { describeError, type FlowRun, splitCommand, WeirError } from "../../core/model/index.ts";
import pkg from "../../package.json" with { type: "json" };
import { DockerApiError, DockerEngine, logLines } from "./engine.ts";
import { IMAGE_REFERENCE, pullImage, type RegistryCredentials, splitTag } from "./images.ts";
import { RUNTIME_REPOSITORY, runtimeImage } from "./runtime-image.ts";

// Docker work pools: each flow run in a container of the run's image, with Prefect's docker
// worker job variables. The container runs `weir execute <id>` and reports to the agent's API.

const memory = v.nullish(
  v.union(
    [
      v.number(),
      v.pipe(v.string(), v.regex(/^\d+(\.\d+)?\s*[bkmg]?$/i, "must be a size such as 128m or 1g")),
    ],
    "must be a size: bytes, or a number with b, k, m or g (128m, 1g)",
  ),
);

const DockerVariables = v.object({
  image: variable(
    v.optional(
      v.pipe(
        v.string(),
        v.regex(
          IMAGE_REFERENCE,
          "must be an image reference: [HOST[:PORT]/]NAME[:TAG], the name in lowercase (registry.example.com/team/flows:1.0)",
        ),
      ),
      runtimeImage(pkg.version),
    ),
    "Image",
    "The image each run's container starts from (default: the Weir runtime image, built with weir image build).",
  ),
  registry_credentials: variable(
    v.nullish(
      v.looseObject(
        { username: v.string(), password: v.string(), registry_url: v.string() },
        "must be a docker-registry-credentials block: {{ weir.blocks.docker-registry-credentials.NAME }}",
      ),
    ),
    "Registry Credentials",
    "Log-in used to pull the image: {{ weir.blocks.docker-registry-credentials.NAME }}.",
  ),
  image_pull_policy: variable(
    v.nullish(v.picklist(["IfNotPresent", "Always", "Never"], "must be IfNotPresent, Always or Never")),
    "Image Pull Policy",
    "When to pull the image: IfNotPresent, Always or Never (default: Always for a latest or untagged image, else IfNotPresent).",
  ),
  networks: variable(v.optional(v.array(v.string()), []), "Networks", "Docker networks the container joins."),
  network_mode: variable(
    v.nullish(v.string()),
    "Network Mode",
    "The container's network mode; without it and without networks, host when the API is on this machine's loopback.",
  ),
  auto_remove: variable(
    v.optional(v.boolean(), false),
    "Auto Remove",
    "Remove each container once its run has ended (a cancelled run's container is always removed).",
  ),
  volumes: variable(
    v.optional(
      v.array(
        v.pipe(
          v.string(),
          v.regex(
            /:/,
            "must be HOST_PATH:CONTAINER_PATH (Invalid volume specification; expected 'path:container_path')",
          ),
        ),
      ),
      [],
    ),
    "Volumes",
    "Host folders to mount, as HOST_PATH:CONTAINER_PATH[:ro].",
  ),
  stream_output: variable(
    v.optional(v.boolean(), true),
    "Stream Output",
    "Print the container's output in the agent's own output.",
  ),
  mem_limit: variable(memory, "Memory Limit", "Most memory the container may use (128m, 1g)."),
  memswap_limit: variable(memory, "Memory + Swap Limit", "Most memory and swap together (-1: no limit)."),
  privileged: variable(
    v.optional(v.boolean(), false),
    "Privileged",
    "Give the container extended privileges.",
  ),
  container_create_kwargs: variable(
    v.nullish(v.record(v.string(), v.unknown())),
    "Container Create Arguments",
    "More container settings: docker-py names (user, working_dir, hostname, cpu_shares, shm_size, ...) or Engine API fields (HostConfig: {...}).",
  ),
  name: nameVariable,
  env: envVariable,
  labels: labelsVariable,
  command: variable(
    v.nullish(v.string()),
    "Command",
    "The command the container runs. Leave it blank: it runs `weir execute` with the run's id.",
  ),
});

type DockerConfig = v.InferOutput<typeof DockerVariables>;

/** Bytes of a docker-py size (128m, 1g, 100000b, a number). */
export function sizeBytes(x: string | number): number {
  if (typeof x === "number") return x;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)$/i.exec(x.trim())!;
  const unit = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as "" | "b"];
  return Math.round(Number(m[1]) * unit);
}

/** A container name from the run's (Prefect's slug: [a-zA-Z0-9_.-], at most 250, no leading _ - .). */
export function containerName(name: string): string | null {
  const slug = name
    .replace(/[^a-zA-Z0-9_.-]+/g, "-")
    .replace(/^[_.-]+/, "")
    .slice(0, 250);
  return slug || null;
}

/** docker-py container options by the Engine API field each is, for container_create_kwargs. */
const CREATE_KWARGS: Record<string, [where: "config" | "host", field: string]> = {
  user: ["config", "User"],
  working_dir: ["config", "WorkingDir"],
  hostname: ["config", "Hostname"],
  domainname: ["config", "Domainname"],
  entrypoint: ["config", "Entrypoint"],
  tty: ["config", "Tty"],
  stop_signal: ["config", "StopSignal"],
  healthcheck: ["config", "Healthcheck"],
  cpu_shares: ["host", "CpuShares"],
  cpu_period: ["host", "CpuPeriod"],
  cpu_quota: ["host", "CpuQuota"],
  nano_cpus: ["host", "NanoCpus"],
  cpuset_cpus: ["host", "CpusetCpus"],
  shm_size: ["host", "ShmSize"],
  extra_hosts: ["host", "ExtraHosts"],
  dns: ["host", "Dns"],
  cap_add: ["host", "CapAdd"],
  cap_drop: ["host", "CapDrop"],
  devices: ["host", "Devices"],
  ulimits: ["host", "Ulimits"],
  pids_limit: ["host", "PidsLimit"],
  read_only: ["host", "ReadonlyRootfs"],
  security_opt: ["host", "SecurityOpt"],
  tmpfs: ["host", "Tmpfs"],
  runtime: ["host", "Runtime"],
  init: ["host", "Init"],
};

/** Fields of the job configuration that container_create_kwargs may not set again (as Prefect). */
const OWN = new Set(Object.keys(DockerVariables.entries));

function applyCreateKwargs(
  body: Record<string, unknown> & { HostConfig: Record<string, unknown> },
  kwargs: Record<string, unknown>,
  log: (m: string) => void,
): void {
  for (const [k, x] of Object.entries(kwargs)) {
    if (OWN.has(k)) {
      log(`container_create_kwargs.${k} is left out: set the job variable ${k} instead`);
      continue;
    }
    const mapped = CREATE_KWARGS[k];
    if (mapped) {
      const value =
        k === "shm_size" && typeof x === "string"
          ? sizeBytes(x)
          : k === "extra_hosts" && x && typeof x === "object" && !Array.isArray(x)
            ? Object.entries(x).map(([h, a]) => `${h}:${a}`)
            : x;
      if (mapped[0] === "config") body[mapped[1]] = value;
      else body.HostConfig[mapped[1]] = value;
    } else if (/^[A-Z]/.test(k)) {
      // An Engine API field as the API spells it.
      body[k] =
        k === "HostConfig" && x && typeof x === "object" ? { ...body.HostConfig, ...(x as object) } : x;
    } else {
      throw new WeirError(
        "INVALID",
        `container_create_kwargs.${k} is not supported: use one of ${Object.keys(CREATE_KWARGS).join(", ")}, or an Engine API field such as HostConfig`,
      );
    }
  }
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/** Which network the container joins and the API address(es) it is given (Prefect's rules). */
function networking(
  config: DockerConfig,
  apiUrl: string,
): { mode: string | undefined; apiUrl: string; extraHosts: string[] } {
  const urls = apiUrl.split(",").map((u) => new URL(u));
  const loopback = urls.some((u) => LOOPBACK.test(u.hostname));
  const mode =
    config.network_mode ?? (config.networks.length ? config.networks[0] : loopback ? "host" : undefined);
  if (!loopback || mode === "host") return { mode, apiUrl, extraHosts: [] };
  // The agent's own loopback is not the container's: it reaches the host by name.
  for (const u of urls) if (LOOPBACK.test(u.hostname)) u.hostname = "host.docker.internal";
  return {
    mode,
    apiUrl: urls.map((u) => u.toString().replace(/\/$/, "")).join(","),
    extraHosts: ["host.docker.internal:host-gateway"],
  };
}

function pullPolicy(config: DockerConfig): "IfNotPresent" | "Always" | "Never" {
  if (config.image_pull_policy) return config.image_pull_policy;
  const { tag } = splitTag(config.image);
  return !tag || tag === "latest" ? "Always" : "IfNotPresent";
}

async function ensureImage(
  engine: DockerEngine,
  config: DockerConfig,
  log: (m: string) => void,
  signal: AbortSignal,
) {
  const policy = pullPolicy(config);
  const have = policy === "Always" ? undefined : await engine.inspectImage(config.image);
  if (have) return;
  const hint =
    splitTag(config.image).name === RUNTIME_REPOSITORY
      ? `; build it on this Docker host with: weir image build${config.image === runtimeImage(pkg.version) ? "" : ` --tag ${config.image}`}`
      : "";
  if (policy === "Never")
    throw new WeirError(
      "NOT_FOUND",
      `image ${config.image} is not on this Docker host and image_pull_policy is Never${hint || ": build or pull it there"}`,
    );
  log(`Pulling ${config.image}`);
  try {
    await pullImage(engine, config.image, config.registry_credentials as RegistryCredentials | null, {
      log,
      progress: () => {},
      signal,
    });
  } catch (err) {
    // A latest (or untagged) image pulled by default on a host that has it: run what is there
    // (the registry may be out of reach). image_pull_policy: Always asked for the registry's
    // copy, so the run fails as Prefect's and Kubernetes' do instead of running older code.
    if (!config.image_pull_policy && (await engine.inspectImage(config.image))) {
      log(`Could not pull ${config.image} (${describeError(err)}); running the copy this host has`);
      return;
    }
    throw new WeirError(
      "NOT_FOUND",
      `${describeError(err)}${hint}${config.image_pull_policy === "Always" ? " (image_pull_policy is Always: the copy this host may have is not run)" : ""}`,
    );
  }
}

export const dockerInfrastructure = defineInfrastructure({
  type: "docker",
  description: "each flow run in a Docker container",
  jobVariables: DockerVariables,
  deployNotes({ jobVariables, pullSteps }) {
    const image = typeof jobVariables.image === "string" ? jobVariables.image : runtimeImage(pkg.version);
    const mounts = Array.isArray(jobVariables.volumes) && jobVariables.volumes.length > 0;
    if (splitTag(image).name !== RUNTIME_REPOSITORY || pullSteps.length > 0 || mounts) return [];
    return [
      `runs use the image ${image}, which holds Weir but not this project, and there are no pull steps to fetch it: its runs will not find their entrypoint. Build an image of the project (a build_docker_image step with dockerfile: auto, and job variable image: "{{ build-image.image }}"), or add pull steps that fetch the code (git_clone, pull_from_s3)`,
    ];
  },
  async check() {
    const engine = DockerEngine.fromEnv();
    await engine.ping();
  },
  async launch(run: FlowRun, config: DockerConfig, ctx): Promise<InfraHandle> {
    const engine = DockerEngine.fromEnv();
    const signal = ctx.signal;
    await ensureImage(engine, config, ctx.log, signal);
    const net = networking(config, ctx.apiUrl);
    const env = { ...stringEnv(config.env), ...runVariables(run, ctx, net.apiUrl) };
    const body: Record<string, unknown> & { HostConfig: Record<string, unknown> } = {
      Image: config.image,
      Cmd: config.command ? splitCommand(config.command) : ["weir", "execute", run.id],
      Env: Object.entries(env)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => `${k}=${x}`),
      Labels: {
        ...config.labels,
        "io.weir.flow-run-id": run.id,
        "io.weir.flow-run-name": run.name,
        "io.weir.version": pkg.version,
      },
      HostConfig: {
        // An init process forwards the stop signal to weir and reaps what the flow starts.
        Init: true,
        NetworkMode: net.mode,
        Binds: config.volumes.length ? config.volumes : undefined,
        Memory: config.mem_limit != null ? sizeBytes(config.mem_limit) : undefined,
        MemorySwap: config.memswap_limit != null ? sizeBytes(config.memswap_limit) : undefined,
        Privileged: config.privileged,
        ExtraHosts: net.extraHosts.length ? net.extraHosts : undefined,
      },
    };
    if (config.container_create_kwargs) applyCreateKwargs(body, config.container_create_kwargs, ctx.log);
    const id = await createContainer(engine, body, containerName(config.name ?? run.name), signal);
    const short = id.slice(0, 12);
    try {
      for (const n of config.networks.slice(1))
        await engine.request("POST", `/networks/${encodeURIComponent(n)}/connect`, {
          body: { Container: id },
          what: `connect the container to network ${n}`,
        });
      if (signal.aborted) throw signal.reason ?? new Error("cancelled");
      await engine.request("POST", `/containers/${id}/start`, { what: `start container ${short}` });
    } catch (err) {
      await remove(engine, id);
      throw err;
    }
    let killed = false;
    if (config.stream_output) void streamOutput(engine, id);
    const exited = waitFor(engine, id, config).then(async (exit) => {
      if (config.auto_remove || killed) await remove(engine, id);
      return exit;
    });
    return {
      id: `container ${short}`,
      exited,
      kill(graceMs) {
        killed = true;
        // Docker sends the stop signal (SIGTERM), waits `t` seconds, then SIGKILL.
        void engine
          .request("POST", `/containers/${id}/stop`, {
            query: { t: Math.max(0, Math.ceil(graceMs / 1000)) },
            what: `stop container ${short}`,
          })
          .catch((err) => ctx.log(`Could not stop container ${short}: ${describeError(err)}`));
      },
    };
  },
});

/** Creates the container; a name taken by another is retried as name-1, name-2, ... (as Prefect). */
async function createContainer(
  engine: DockerEngine,
  body: Record<string, unknown>,
  name: string | null,
  signal: AbortSignal,
): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      const created = await engine.json<{ Id: string }>("POST", "/containers/create", {
        query: { name: name ? (i === 0 ? name : `${name}-${i}`) : undefined },
        body,
        signal,
        what: "create the container",
      });
      return created.Id;
    } catch (err) {
      if (err instanceof DockerApiError && err.status === 409 && name && i < 50) continue;
      throw err;
    }
  }
}

async function remove(engine: DockerEngine, id: string): Promise<void> {
  await engine
    .request("DELETE", `/containers/${id}`, { query: { force: true }, what: "remove the container" })
    .catch(() => {});
}

/** The container's output in the agent's own, line by line. */
async function streamOutput(engine: DockerEngine, id: string): Promise<void> {
  try {
    const res = await engine.request("GET", `/containers/${id}/logs`, {
      query: { follow: true, stdout: true, stderr: true },
    });
    for await (const { stream, line } of logLines(res.body!))
      (stream === "stderr" ? console.error : console.log)(line);
  } catch {}
}

/** Its last lines of output, for a crash's reason. */
async function lastLines(engine: DockerEngine, id: string, n = 10): Promise<string[]> {
  try {
    const res = await engine.request("GET", `/containers/${id}/logs`, {
      query: { stdout: true, stderr: true, tail: n },
    });
    const out: string[] = [];
    for await (const { line } of logLines(res.body!)) out.push(line);
    return out;
  } catch {
    return [];
  }
}

/** Waits for the container to end and says how: its exit code, out of memory, or the daemon lost. */
async function waitFor(engine: DockerEngine, id: string, config: DockerConfig): Promise<InfraExit> {
  let code: number;
  try {
    const r = await engine.json<{ StatusCode: number; Error?: { Message?: string } | null }>(
      "POST",
      `/containers/${id}/wait`,
      { what: "wait for the container" },
    );
    code = r.StatusCode;
  } catch (err) {
    return {
      code: null,
      reason: `lost contact with the Docker daemon at DOCKER_HOST=${engine.host} while the run was in progress (${describeError(err)}); its container's fate is unknown`,
    };
  }
  let oom = false;
  try {
    const info = await engine.json<{ State: { OOMKilled: boolean } }>("GET", `/containers/${id}/json`);
    oom = info.State.OOMKilled;
  } catch {}
  if (oom)
    return {
      code,
      reason: `ran out of memory and was killed (OOMKilled, mem_limit ${config.mem_limit ?? "none"}; raise the mem_limit job variable)`,
    };
  if (code === 0) return { code, reason: null };
  const tail = await lastLines(engine, id);
  return {
    code,
    reason: `exited with code ${code}${code === 137 ? " (killed)" : ""}${tail.length ? `; its last lines:\n  ${tail.join("\n  ")}` : ""}`,
  };
}
