// A real Docker engine and an authenticated registry for the docker tests: dockerd (Debian's
// docker.io) on a private socket and data root, and Debian's docker-registry with htpasswd
// auth, both on loopback. .ci/run installs them; without them the docker tests are skipped and
// say so in one line.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./harness.ts";

const which = (name: string) =>
  ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"]
    .map((d) => join(d, name))
    .find(existsSync);

export const DOCKERD = which("dockerd");
export const REGISTRY = which("docker-registry");

/** Why the docker tests cannot run here, or null when they can. */
export function dockerMissing(): string | null {
  const missing = [!DOCKERD && "dockerd (docker.io)", !REGISTRY && "docker-registry"].filter(Boolean);
  if (missing.length === 0) return null;
  return `docker tests skipped: ${missing.join(" and ")} not installed (apt-get install docker.io docker-registry; .ci/run does)`;
}

export interface DockerHost {
  /** DOCKER_HOST for the agent and the CLI. */
  host: string;
  socket: string;
  /** The registry's address (host:port), and a user it knows. */
  registry: string;
  user: string;
  password: string;
  /** Stops the daemon (its containers with it); the registry keeps running. */
  stopDaemon(): Promise<void>;
  dispose(): Promise<void>;
}

async function waitUntil(what: string, ok: () => Promise<boolean>, proc: Subprocess, log: () => string) {
  const until = Date.now() + 60_000;
  for (;;) {
    if (await ok().catch(() => false)) return;
    if (proc.exitCode !== null)
      throw new Error(`${what} exited (${proc.exitCode}) while starting:\n${log()}`);
    if (Date.now() > until) throw new Error(`${what} did not start within 60 s:\n${log()}`);
    await Bun.sleep(100);
  }
}

/** Starts dockerd and the registry; call dispose() when done. */
export async function startDockerHost(): Promise<DockerHost> {
  // Short paths: containerd's sockets live under exec-root and must stay under 108 characters.
  const root = mkdtempSync("/tmp/wd-");
  const socket = join(root, "d.sock");
  let dlog = "";
  const dockerd = Bun.spawn(
    [
      DOCKERD!,
      "--host",
      `unix://${socket}`,
      "--data-root",
      join(root, "data"),
      "--exec-root",
      join(root, "x"),
      "--pidfile",
      join(root, "d.pid"),
      // Its own daemon beside any other on the machine: no shared docker0 bridge or iptables rules.
      "--bridge",
      "none",
      "--iptables=false",
      "--ip-masq=false",
    ],
    { stdout: "pipe", stderr: "pipe", stdin: "ignore" },
  );
  void (async () => {
    for await (const c of dockerd.stderr) dlog += new TextDecoder().decode(c);
  })();
  await waitUntil(
    "dockerd",
    async () => (await fetch("http://docker/_ping", { unix: socket } as RequestInit)).ok,
    dockerd,
    () => dlog.split("\n").slice(-20).join("\n"),
  );

  const user = "weir-ci";
  const password = `pw-${crypto.randomUUID()}`;
  const port = await freePort();
  mkdirSync(join(root, "registry"));
  writeFileSync(
    join(root, "htpasswd"),
    `${user}:${await Bun.password.hash(password, { algorithm: "bcrypt", cost: 5 })}\n`,
  );
  writeFileSync(
    join(root, "registry.yml"),
    `version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: ${join(root, "registry")} } }
http: { addr: "127.0.0.1:${port}" }
auth: { htpasswd: { realm: weir-tests, path: ${join(root, "htpasswd")} } }
`,
  );
  let rlog = "";
  const registry = Bun.spawn([REGISTRY!, "serve", join(root, "registry.yml")], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  void (async () => {
    for await (const c of registry.stderr) rlog += new TextDecoder().decode(c);
  })();
  await waitUntil(
    "docker-registry",
    async () => (await fetch(`http://127.0.0.1:${port}/v2/`)).status === 401,
    registry,
    () => rlog,
  );

  const stopDaemon = async () => {
    if (dockerd.exitCode === null) {
      dockerd.kill("SIGTERM");
      const t = setTimeout(() => dockerd.kill("SIGKILL"), 30_000);
      await dockerd.exited;
      clearTimeout(t);
    }
  };
  return {
    host: `unix://${socket}`,
    socket,
    registry: `127.0.0.1:${port}`,
    user,
    password,
    stopDaemon,
    async dispose() {
      registry.kill("SIGKILL");
      await stopDaemon();
      // dockerd unmounts its layers on a clean stop; what it could not is left rather than forced.
      Bun.spawnSync(["sh", "-c", `grep -o '${root}[^ ]*' /proc/mounts | sort -r | xargs -r umount -l`]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
