import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import * as v from "valibot";
import { WeirError } from "../../core/model/index.ts";
import { defineStep, type StepContext } from "../../core/plugin/index.ts";
import { bytes } from "../../core/steps/index.ts";
import pkg from "../../package.json" with { type: "json" };
import { fileEntries, projectContext } from "./context.ts";
import { DockerEngine } from "./engine.ts";
import {
  buildImage,
  IMAGE_NAME,
  login,
  pushImage,
  type RegistryCredentials,
  registryOf,
  tagImage,
} from "./images.ts";
import { ensureRuntimeImage, IMAGE_PROJECTS } from "./runtime-image.ts";

// Prefect's build_docker_image and push_docker_image (prefect-docker, every version's arguments
// and outputs), against the Engine API. `dockerfile: auto` builds FROM the Weir runtime image.

const imageName = v.pipe(
  v.string("must be an image name, such as registry.example.com/team/flows"),
  v.minLength(1, "must not be empty"),
  v.check(
    (s) => !/\s/.test(s),
    "must not contain spaces (an image name is like registry.example.com/team/flows)",
  ),
  v.check(
    (s) => IMAGE_NAME.test(s),
    "must be an image name: [HOST[:PORT]/]NAME in lowercase, such as registry.example.com/team/flows (the tag goes in tag)",
  ),
);
const tag = v.nullish(
  v.pipe(
    v.union([v.string(), v.number()], "must be a tag, such as v1 or a commit hash"),
    v.transform(String),
    v.check(
      (s) => /^[\w][\w.-]{0,127}$/.test(s),
      "must be a tag of letters, digits, '_', '.' and '-' (at most 128)",
    ),
  ),
);
const tags = v.nullish(
  v.array(v.pipe(v.union([v.string(), v.number()]), v.transform(String)), "must be a list of tags"),
);
const credentials = v.nullish(
  v.looseObject(
    {
      username: v.string("must be the registry user name"),
      password: v.string("must be the registry password"),
      registry_url: v.string("must be the registry's address, such as registry.example.com"),
      reauth: v.optional(v.boolean()),
    },
    "must be a docker-registry-credentials block, such as {{ weir.blocks.docker-registry-credentials.NAME }}",
  ),
);
const buildBackend = v.optional(
  v.picklist(
    ["docker-py"],
    'must be "docker-py" (the Engine API, the default); build_backend buildx is not supported yet',
  ),
  "docker-py",
);
const flag = v.optional(v.boolean("must be true or false"));
const scalar = v.union([v.string(), v.number(), v.boolean()]);

/** docker-py's build keyword arguments, by the Engine API parameter each becomes. */
const BUILD_KWARGS = {
  buildargs: v.nullish(v.record(v.string(), scalar, "must be a mapping of build argument names to values")),
  platform: v.nullish(v.string("must be a platform such as linux/amd64")),
  nocache: flag,
  pull: flag,
  labels: v.nullish(v.record(v.string(), v.string(), "must be a mapping of label names to text")),
  target: v.nullish(v.string("must be the name of a build stage")),
  rm: flag,
  forcerm: flag,
  network_mode: v.nullish(v.string("must be a network mode such as host")),
  extra_hosts: v.nullish(v.record(v.string(), v.string(), "must be a mapping of host names to addresses")),
  shmsize: v.nullish(v.pipe(v.number(), v.integer("must be a whole number of bytes"))),
  cache_from: v.nullish(v.array(v.string(), "must be a list of images")),
  squash: flag,
  isolation: v.nullish(v.string()),
  quiet: flag,
  container_limits: v.nullish(
    v.strictObject(
      {
        memory: v.optional(v.number()),
        memswap: v.optional(v.number()),
        cpushares: v.optional(v.number()),
        cpusetcpus: v.optional(v.string()),
      },
      "must be a mapping of memory, memswap, cpushares, cpusetcpus",
    ),
  ),
  // docker-py options that have no meaning here (the answer is always decoded, no proxy config).
  decode: flag,
  use_config_proxy: flag,
  timeout: v.nullish(v.number()),
};

/** The Engine API query of the build keyword arguments given. */
function buildQuery(args: Record<string, unknown>): Record<string, string | number | boolean | undefined> {
  const q: Record<string, string | number | boolean | undefined> = {};
  const set = (k: string, x: unknown) => {
    if (x !== undefined && x !== null) q[k] = typeof x === "object" ? JSON.stringify(x) : (x as string);
  };
  set("platform", args.platform);
  set("nocache", args.nocache);
  // Prefect pulls base images by default; an air-gapped daemon cannot, so Weir does not unless told.
  set("pull", args.pull ?? false);
  set("target", args.target);
  set("rm", args.rm);
  set("forcerm", args.forcerm);
  set("networkmode", args.network_mode);
  set(
    "extrahosts",
    args.extra_hosts
      ? Object.entries(args.extra_hosts as object)
          .map(([h, a]) => `${h}:${a}`)
          .join(",")
      : undefined,
  );
  set("shmsize", args.shmsize);
  set("cachefrom", args.cache_from);
  set("squash", args.squash);
  set("isolation", args.isolation);
  set("q", args.quiet);
  const limits = args.container_limits as Record<string, unknown> | null | undefined;
  if (limits) for (const [k, x] of Object.entries(limits)) set(k, x);
  return q;
}

/**
 * The default tag: the UTC time as Prefect writes it (python-slugify of datetime.isoformat()),
 * e.g. 2022-08-31t18-01-32-00-00, with microseconds when there are any.
 */
export function defaultTag(now = new Date()): string {
  const iso = now
    .toISOString()
    .replace(/\.(\d{3})Z$/, (_, ms) => (ms === "000" ? "+00:00" : `.${ms}000+00:00`));
  return iso
    .toLowerCase()
    .replace(/[^-a-z0-9]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
}

/** Prefect 3's namespace default: a bare name gets WEIR_/PREFECT_DEFAULT_DOCKER_BUILD_NAMESPACE. */
function namespaced(name: string, env: Record<string, string | undefined>): string {
  const ns =
    env.WEIR_DEFAULT_DOCKER_BUILD_NAMESPACE ??
    env.PREFECT_DEFAULT_DOCKER_BUILD_NAMESPACE ??
    env.PREFECT_DEPLOYMENTS_DEFAULT_DOCKER_BUILD_NAMESPACE;
  return ns && !name.includes("/") ? `${ns.replace(/\/+$/, "")}/${name}` : name;
}

const engineFor = (ctx: StepContext) => new DockerEngine(ctx.env.DOCKER_HOST, ctx.fetch);

const reporter = (ctx: StepContext) => ({
  log: (line: string) => ctx.log.info(line),
  progress: ctx.progress,
  signal: ctx.signal,
});

function secretsOf(ctx: StepContext, creds: RegistryCredentials | null | undefined) {
  if (creds?.password) ctx.addSecret(creds.password);
}

/**
 * What the project needs installed in the image: null when nothing (no dependencies, or
 * node_modules is sent), else the files the install reads first. Local (file:, link:,
 * workspace:) dependencies need the whole project, so then the list is empty.
 */
function dependencyFiles(dir: string, sent: Set<string>): string[] | null {
  const manifest = join(dir, "package.json");
  if (!existsSync(manifest) || [...sent].some((f) => f.startsWith("node_modules/"))) return null;
  let deps: Record<string, string> | undefined;
  try {
    deps = (JSON.parse(readFileSync(manifest, "utf8")) as { dependencies?: Record<string, string> })
      .dependencies;
  } catch {
    throw new WeirError("INVALID", `package.json in ${dir} is not valid JSON`);
  }
  if (!deps || Object.keys(deps).length === 0) return null;
  if (Object.values(deps).some((spec) => /^(file|link|workspace|portal):/.test(String(spec)))) return [];
  return ["package.json", ...["bun.lock", "bun.lockb", "package-lock.json"].filter((f) => sent.has(f))];
}

/** The Dockerfile `dockerfile: auto` writes: FROM the runtime image, the project under /opt/weir. */
export function autoDockerfile(base: string, project: string, deps: string[] | null): string {
  const dir = `${IMAGE_PROJECTS}/${project}`;
  const lines = [`FROM ${base}`];
  const install = 'RUN ["weir", "install-deps"]';
  if (deps?.length) {
    // Dependencies first, in a layer of their own: a code change does not reinstall them.
    lines.push(`COPY ${deps.join(" ")} ${dir}/`, `WORKDIR ${dir}`, install);
  }
  lines.push(`COPY . ${dir}/`, `WORKDIR ${dir}/`);
  // Local dependencies are folders of the project: installed once it is all there.
  if (deps && deps.length === 0) lines.push(install);
  return `${lines.join("\n")}\n`;
}

/** The name of the generated Dockerfile in the build context. */
const AUTO_DOCKERFILE = "Dockerfile.weir-auto";

const cache = new Map<string, Promise<Record<string, unknown>>>();

/** Prefect 3 caches identical build and push steps within one deploy (N deployments, one build). */
function cached(
  kind: string,
  args: Record<string, unknown>,
  ctx: StepContext,
  work: () => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const { ignore_cache, ...rest } = args;
  const key = JSON.stringify([kind, ctx.cwd, rest]);
  const hit = cache.get(key);
  if (hit && !ignore_cache) {
    ctx.log.info(
      `${kind}: the same step already ran in this deploy; using its result (ignore_cache: true runs it again)`,
    );
    return hit;
  }
  const p = work();
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  return p;
}

export const buildDockerImage = defineStep({
  name: "weir.steps.build_docker_image",
  aliases: [
    "prefect_docker.deployments.steps.build_docker_image",
    "prefect_docker.projects.steps.build_docker_image",
  ],
  description:
    "build a Docker image of the project (dockerfile: auto writes one FROM the Weir runtime image)",
  args: v.strictObject({
    image_name: imageName,
    dockerfile: v.optional(v.string("must be a Dockerfile's path, or auto"), "Dockerfile"),
    tag,
    additional_tags: tags,
    ignore_cache: flag,
    persist_dockerfile: flag,
    dockerfile_output_path: v.optional(v.string("must be a file path"), "Dockerfile.generated"),
    build_backend: buildBackend,
    path: v.nullish(v.string("must be the build context folder")),
    // prefect-docker ≤ 0.4: build and push in one step (deprecated there for push_docker_image).
    push: flag,
    credentials,
    ...BUILD_KWARGS,
  }),
  async run(args, ctx) {
    return cached("build_docker_image", args as Record<string, unknown>, ctx, async () => {
      const name = namespaced(args.image_name, ctx.env);
      const tagText = args.tag || defaultTag();
      const extra = (args.additional_tags ?? []) as string[];
      const engine = engineFor(ctx);
      const r = reporter(ctx);
      secretsOf(ctx, args.credentials);
      const contextDir = args.path ? resolve(ctx.cwd, args.path) : ctx.cwd;
      const auto = args.dockerfile === "auto";
      const rel = auto ? AUTO_DOCKERFILE : relative(contextDir, resolve(contextDir, args.dockerfile));
      if (!auto && !existsSync(join(contextDir, rel)))
        throw new WeirError(
          "INVALID",
          `there is no Dockerfile at ${join(contextDir, rel)}: give dockerfile: PATH (relative to ${contextDir}), or dockerfile: auto to have one written`,
        );
      if (rel.startsWith(".."))
        throw new WeirError(
          "INVALID",
          `dockerfile ${args.dockerfile} is outside the build context ${contextDir}`,
        );
      const { files, ignoredBy } = projectContext(contextDir, {
        useProjectIgnore: auto,
        keep: auto ? [] : [rel],
      });
      const entries = fileEntries(auto ? files.filter((f) => f.rel !== ".dockerignore") : files);
      if (auto) {
        // The generated Dockerfile goes into the build context only: the project folder is not
        // written to (persist_dockerfile keeps a copy, as in Prefect).
        const base = await ensureRuntimeImage(engine, {
          ...r,
          version: pkg.version,
          run: (argv) => ctx.run(argv, { stream: false }),
        });
        const text = autoDockerfile(
          base,
          basename(contextDir),
          dependencyFiles(contextDir, new Set(files.map((f) => f.rel))),
        );
        // The daemon reads the Dockerfile, then drops what the context's .dockerignore lists from
        // what COPY sees: the generated file stays out of the image. The project's own
        // .dockerignore has been applied already (to `files`), so this one takes its place.
        entries.push(
          { name: AUTO_DOCKERFILE, data: text },
          { name: ".dockerignore", data: `${AUTO_DOCKERFILE}\n.dockerignore\n` },
        );
        if (args.persist_dockerfile) {
          writeFileSync(resolve(ctx.cwd, args.dockerfile_output_path), text);
          ctx.log.info(`Wrote the generated Dockerfile to ${args.dockerfile_output_path}`);
        }
      }
      const size = files.reduce((n, f) => n + f.size, 0);
      ctx.log.info(
        `Building ${name}:${tagText} from ${auto ? "a generated Dockerfile" : rel} (context: ${files.length} files, ${bytes(size)}${ignoredBy.length ? `, less what ${ignoredBy.join(" and ")} lists` : ""})`,
      );
      const id = await buildImage(engine, {
        ...r,
        entries,
        dockerfile: rel,
        tag: `${name}:${tagText}`,
        query: buildQuery(args as Record<string, unknown>),
        labels: { ...(args.labels as Record<string, string> | undefined), "io.weir.version": pkg.version },
        buildargs: args.buildargs
          ? Object.fromEntries(Object.entries(args.buildargs).map(([k, x]) => [k, String(x)]))
          : undefined,
        credentials: args.credentials,
      });
      for (const t of extra) await tagImage(engine, id, name, t);
      ctx.log.info(
        `Built ${name}:${tagText} (${id.replace(/^sha256:/, "").slice(0, 12)})${extra.length ? `, also tagged ${extra.join(", ")}` : ""}`,
      );
      if (args.push) {
        ctx.log.warning(
          "build_docker_image push: true is deprecated in Prefect; use a push_docker_image step",
        );
        await pushAll(engine, ctx, name, [tagText, ...extra], args.credentials);
      }
      return {
        image_name: name,
        tag: tagText,
        image: `${name}:${tagText}`,
        image_id: id,
        additional_tags: extra,
      };
    });
  },
  describe(raw, cwd) {
    const auto = raw.dockerfile === "auto";
    return `would build image ${String(raw.image_name)}:${raw.tag ? String(raw.tag) : "<UTC time>"} in ${raw.path ? resolve(cwd, String(raw.path)) : cwd} from ${auto ? "a Dockerfile written FROM the Weir runtime image" : String(raw.dockerfile ?? "Dockerfile")}`;
  },
});

async function pushAll(
  engine: DockerEngine,
  ctx: StepContext,
  name: string,
  tagList: (string | undefined)[],
  creds: RegistryCredentials | null | undefined,
): Promise<void> {
  if (creds) await login(engine, creds, ctx.signal);
  for (const t of tagList) {
    ctx.log.info(`Pushing ${name}${t ? `:${t}` : " (every tag)"} to ${registryOf(name)}`);
    const { digest } = await pushImage(engine, name, t ?? "", creds, reporter(ctx));
    ctx.log.info(`Pushed ${name}${t ? `:${t}` : ""}${digest ? ` (${digest})` : ""}`);
  }
}

export const pushDockerImage = defineStep({
  name: "weir.steps.push_docker_image",
  aliases: [
    "prefect_docker.deployments.steps.push_docker_image",
    "prefect_docker.projects.steps.push_docker_image",
  ],
  description: "push a Docker image to its registry",
  args: v.strictObject({
    image_name: imageName,
    tag,
    credentials,
    additional_tags: tags,
    ignore_cache: flag,
    build_backend: buildBackend,
  }),
  async run(args, ctx) {
    return cached("push_docker_image", args as Record<string, unknown>, ctx, async () => {
      const name = namespaced(args.image_name, ctx.env);
      const extra = (args.additional_tags ?? []) as string[];
      secretsOf(ctx, args.credentials);
      await pushAll(engineFor(ctx), ctx, name, [args.tag ?? undefined, ...extra], args.credentials);
      return {
        image_name: name,
        tag: args.tag ?? null,
        image: args.tag ? `${name}:${args.tag}` : name,
        additional_tags: extra,
      };
    });
  },
  describe(raw) {
    const name = String(raw.image_name);
    const where = name.includes("{{") ? "its registry" : registryOf(name);
    return `would push ${name}${raw.tag ? `:${String(raw.tag)}` : ""} to ${where}`;
  },
});
