import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import * as v from "valibot";
import { WeirError } from "../../core/model/index.ts";
import { defineStep, type StepContext } from "../../core/plugin/index.ts";

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

async function git(args: string[], cwd: string, ctx: StepContext): Promise<void> {
  const r = await ctx.run(["git", ...args], {
    cwd,
    env: { ...ctx.env, GIT_TERMINAL_PROMPT: "0" },
    stream: false,
  });
  if (r.code !== 0) {
    throw new WeirError(
      "FAILED",
      ctx.scrub(`git ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-3).join(" ")}`),
    );
  }
}

const credentials = v.nullish(
  v.record(
    v.string(),
    v.unknown(),
    "must be a credentials block, such as {{ weir.blocks.github-credentials.NAME }}",
  ),
);

/**
 * Prefect's git_clone: clones `repository` (optionally a branch, with submodules) into
 * `<name>[-<branch>]` in the working directory, or updates that clone if it exists. A token (from
 * `access_token` or a `credentials` block) goes into the https URL for the clone only: it is never
 * printed and not left in the clone's remote URL. Output: `directory`.
 */
export const gitClone = defineStep({
  name: "weir.steps.git_clone",
  aliases: [
    "prefect.deployments.steps.git_clone",
    "prefect.deployments.steps.pull.git_clone",
    "prefect.deployments.steps.git_clone_project",
    "prefect.projects.steps.git_clone_project",
    "prefect.projects.steps.git_clone",
  ],
  description: "clone (or update) a git repository; a token goes into the URL for the clone only",
  args: v.strictObject({
    repository: v.pipe(v.string("must be the repository URL"), v.minLength(1, "must not be empty")),
    branch: v.nullish(v.string("must be a branch name")),
    include_submodules: v.optional(v.boolean("must be true or false")),
    access_token: v.nullish(v.string("must be a token (a string), or use credentials")),
    credentials,
    directory: v.optional(v.string("must be a folder path")),
  }),
  async run(args, ctx) {
    const branch = args.branch || undefined;
    const creds = (args.credentials ?? {}) as Record<string, unknown>;
    const token =
      args.access_token ??
      (typeof creds.token === "string"
        ? creds.token
        : typeof creds.access_token === "string"
          ? creds.access_token
          : undefined);
    const username = typeof creds.username === "string" ? creds.username : undefined;
    if (token) {
      ctx.addSecret(token);
      ctx.addSecret(encodeURIComponent(token));
    }
    const url = withToken(args.repository, token, username);
    const name = basename(args.repository.replace(/\/+$/, "")).replace(/\.git$/, "");
    const dir = resolve(ctx.cwd, args.directory ?? (branch ? `${name}-${branch}` : name));
    if (existsSync(resolve(dir, ".git"))) {
      ctx.log.info(`Updating the existing clone in ${dir}`);
      await git(["fetch", "--depth", "1", url, branch ?? "HEAD"], dir, ctx);
      await git(["reset", "--hard", "FETCH_HEAD"], dir, ctx);
      if (args.include_submodules === true)
        await git(["submodule", "update", "--init", "--recursive"], dir, ctx);
    } else {
      ctx.log.info(`Cloning ${args.repository}${branch ? ` (branch ${branch})` : ""} into ${dir}`);
      await git(
        [
          "clone",
          "--depth",
          "1",
          ...(branch ? ["--branch", branch] : []),
          ...(args.include_submodules === true ? ["--recurse-submodules"] : []),
          url,
          dir,
        ],
        ctx.cwd,
        ctx,
      );
      if (token) await git(["remote", "set-url", "origin", args.repository], dir, ctx);
    }
    return { directory: dir };
  },
});
