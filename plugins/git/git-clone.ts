import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { WeirError } from "../../core/model/index.ts";
import { checkKwargs, type StepFn, scrub } from "../../core/steps/index.ts";

/** The user part git hosts expect before a token in an https URL. */
function userFor(host: string, username?: string): string {
  if (username) return username;
  if (host.includes("gitlab")) return "oauth2";
  if (host.includes("bitbucket")) return "x-token-auth";
  return "x-access-token";
}

export function withToken(repository: string, token: string | undefined, username?: string): string {
  if (!token) return repository;
  let url: URL;
  try {
    url = new URL(repository);
  } catch {
    throw new WeirError("INVALID", `git_clone: a token works with https:// URLs only (got ${repository})`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new WeirError(
      "INVALID",
      `git_clone: a token works with http(s) URLs only (got ${url.protocol}// URL)`,
    );
  }
  url.username = encodeURIComponent(userFor(url.host, username));
  url.password = encodeURIComponent(token);
  return url.toString();
}

async function git(args: string[], cwd: string, secrets: string[], signal: AbortSignal): Promise<void> {
  const proc = Bun.spawn(["git", ...args], {
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    signal,
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) {
    throw new WeirError(
      "FAILED",
      scrub(
        `git ${args[0]} failed (exit ${code}): ${stderr.trim().split("\n").slice(-3).join(" ")}`,
        secrets,
      ),
    );
  }
}

/**
 * Prefect's git_clone: clones `repository` (optionally a branch, with submodules) into
 * `<name>[-<branch>]` in the working directory, or updates that clone if it exists. A token (from
 * `access_token` or a `credentials` block) goes into the https URL for the clone only: it is never
 * printed and not left in the clone's remote URL. Output: `directory`.
 */
export const gitClone: StepFn = async (kwargs, ctx) => {
  checkKwargs("git_clone", kwargs, [
    "repository",
    "branch",
    "include_submodules",
    "access_token",
    "credentials",
    "directory",
  ]);
  const repository = kwargs.repository;
  if (typeof repository !== "string" || !repository)
    throw new WeirError("INVALID", "git_clone: `repository` is required");
  const branch = typeof kwargs.branch === "string" && kwargs.branch ? kwargs.branch : undefined;
  const creds = (kwargs.credentials ?? {}) as Record<string, unknown>;
  if (typeof creds !== "object")
    throw new WeirError("INVALID", "git_clone: `credentials` must be a credentials block");
  const token =
    (typeof kwargs.access_token === "string" ? kwargs.access_token : undefined) ??
    (typeof creds.token === "string"
      ? creds.token
      : typeof creds.access_token === "string"
        ? creds.access_token
        : undefined);
  const username = typeof creds.username === "string" ? creds.username : undefined;
  const secrets = [...(ctx.secrets ?? []), ...(token ? [token, encodeURIComponent(token)] : [])];
  const url = withToken(repository, token, username);
  const name = basename(repository.replace(/\/+$/, "")).replace(/\.git$/, "");
  const dir = resolve(
    ctx.cwd,
    typeof kwargs.directory === "string" ? kwargs.directory : branch ? `${name}-${branch}` : name,
  );
  if (existsSync(resolve(dir, ".git"))) {
    ctx.log.info(`Updating the existing clone in ${dir}`);
    await git(["fetch", "--depth", "1", url, branch ?? "HEAD"], dir, secrets, ctx.signal);
    await git(["reset", "--hard", "FETCH_HEAD"], dir, secrets, ctx.signal);
    if (kwargs.include_submodules === true)
      await git(["submodule", "update", "--init", "--recursive"], dir, secrets, ctx.signal);
  } else {
    ctx.log.info(`Cloning ${scrub(repository, secrets)}${branch ? ` (branch ${branch})` : ""} into ${dir}`);
    await git(
      [
        "clone",
        "--depth",
        "1",
        ...(branch ? ["--branch", branch] : []),
        ...(kwargs.include_submodules === true ? ["--recurse-submodules"] : []),
        url,
        dir,
      ],
      ctx.cwd,
      secrets,
      ctx.signal,
    );
    if (token) await git(["remote", "set-url", "origin", repository], dir, secrets, ctx.signal);
  }
  return { directory: dir };
};
