import { existsSync, statSync } from "node:fs";
import { WeirError } from "../../core/model/index.ts";
import type { ContextEntry } from "./context.ts";
import type { DockerEngine } from "./engine.ts";
import { buildImage, type Reporter } from "./images.ts";

// The Weir runtime image: this very binary and the few shared libraries it links, FROM scratch.
// It needs no registry at all (air-gapped machines build it from what they have), and
// `dockerfile: auto` builds start FROM it.

export const RUNTIME_REPOSITORY = "weir-runtime";
/** Where a project goes in an image; /opt/prefect is the same folder, for Prefect's pull steps. */
export const IMAGE_PROJECTS = "/opt/weir";

/** Debian's (and Ubuntu's) bundle of the machine's trusted certificate authorities. */
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export const runtimeImage = (version: string) => `${RUNTIME_REPOSITORY}:${version}`;

/** The compiled binary this process runs from; running from source has none to put in an image. */
export function compiledBinary(): string {
  if (Bun.main.startsWith("/$bunfs/")) return process.execPath;
  throw new WeirError(
    "FAILED",
    "the Weir runtime image is built from the compiled weir binary, and this is Weir running from source: build it (npm run build) and run dist/weir",
  );
}

/** A fingerprint of the binary, so an image of an older build is rebuilt. */
export async function binaryDigest(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

/** The shared libraries a binary links, with the loader, from `ldd`'s list. */
export async function sharedLibraries(
  binary: string,
  run: (argv: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
): Promise<string[]> {
  const r = await run(["ldd", binary]).catch((err) => {
    throw new WeirError(
      "FAILED",
      `cannot list the libraries weir links: ldd did not run (${String(err)}); install libc-bin`,
    );
  });
  if (r.code !== 0) {
    if (/not a dynamic executable/.test(r.stdout + r.stderr)) return [];
    throw new WeirError("FAILED", `ldd ${binary} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  const libs = new Set<string>();
  for (const line of r.stdout.split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.add(m[1]);
  }
  return [...libs];
}

export interface RuntimeImageOptions extends Reporter {
  binary: string;
  version: string;
  tag: string;
  run: (argv: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Builds the runtime image FROM scratch; resolves with its id. */
export async function buildRuntimeImage(engine: DockerEngine, o: RuntimeImageOptions): Promise<string> {
  const digest = await binaryDigest(o.binary);
  const libs = await sharedLibraries(o.binary, o.run);
  // The machine's certificate authorities, so HTTPS from flows (and dependency installs) trusts
  // what this machine trusts, a company's own authority included.
  const ca = existsSync(CA_BUNDLE);
  const file = (name: string, path: string, mode: number): ContextEntry => ({
    name,
    file: path,
    size: statSync(path).size,
    mode,
  });
  const entries: ContextEntry[] = [
    {
      name: "Dockerfile",
      data: [
        "FROM scratch",
        "COPY rootfs/ /",
        `ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/root TMPDIR=/tmp${ca ? ` NODE_EXTRA_CA_CERTS=${CA_BUNDLE} SSL_CERT_FILE=${CA_BUNDLE}` : ""}`,
        `WORKDIR ${IMAGE_PROJECTS}`,
        `LABEL io.weir.version="${o.version}" io.weir.binary-sha256="${digest}"`,
        'CMD ["weir", "--help"]',
        "",
      ].join("\n"),
    },
    file("rootfs/usr/local/bin/weir", o.binary, 0o755),
    ...libs.filter(existsSync).map((lib) => file(`rootfs${lib}`, lib, 0o755)),
    { name: "rootfs/tmp", dir: true, mode: 0o1777 },
    { name: "rootfs/root", dir: true, mode: 0o700 },
    { name: `rootfs${IMAGE_PROJECTS}`, dir: true },
    { name: "rootfs/opt/prefect", symlink: "weir" },
    { name: "rootfs/etc/passwd", data: "root:x:0:0:root:/root:/sbin/nologin\n" },
    { name: "rootfs/etc/group", data: "root:x:0:\n" },
    ...(ca ? [file(`rootfs${CA_BUNDLE}`, CA_BUNDLE, 0o644)] : []),
  ];
  o.log(`Building the Weir runtime image ${o.tag} from ${o.binary} and ${libs.length} shared libraries`);
  return buildImage(engine, { ...o, entries, dockerfile: "Dockerfile", tag: o.tag });
}

/**
 * The runtime image for this binary: the one the daemon has when it was built from this very
 * binary, else built now. Resolves with its name.
 */
export async function ensureRuntimeImage(
  engine: DockerEngine,
  o: Omit<RuntimeImageOptions, "tag" | "binary"> & { binary?: string },
): Promise<string> {
  const tag = runtimeImage(o.version);
  const binary = o.binary ?? compiledBinary();
  const have = await engine.inspectImage(tag);
  const want = await binaryDigest(binary);
  if (have?.Config?.Labels?.["io.weir.binary-sha256"] === want) return tag;
  o.log(
    have
      ? `The runtime image ${tag} was built from another weir binary: building it again`
      : `The Docker daemon has no ${tag} yet: building it (once per daemon and Weir version)`,
  );
  await buildRuntimeImage(engine, { ...o, binary, tag });
  return tag;
}
