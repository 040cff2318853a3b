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

/**
 * The token as git configuration in the environment (GIT_CONFIG_COUNT/KEY/VALUE, git 2.31+): an
 * Authorization header for that host only. Never in git's arguments, where `ps` would show it to
 * every user of the machine, and never in the clone's .git/config.
 */
export function tokenEnv(
  repository: string,
  token: string | undefined,
  username?: string,
): Record<string, string> {
  if (!token) return {};
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
  const basic = Buffer.from(`${userFor(url.host, username)}:${token}`).toString("base64");
  return {
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: `http.${url.protocol}//${url.host}/.extraHeader`,
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
  };
}

async function git(
  args: string[],
  cwd: string,
  ctx: StepContext,
  auth: Record<string, string> = {},
): Promise<void> {
  const r = await ctx.run(["git", ...args], {
    cwd,
    env: { ...ctx.env, ...auth, GIT_TERMINAL_PROMPT: "0" },
    stream: false,
  });
  if (r.code !== 0) {
    // With a token sent as a header, a refusal shows as git wanting to ask for a user name.
    const refused = auth.GIT_CONFIG_COUNT && /could not read Username|Authentication failed/.test(r.stderr);
    const why = refused
      ? "Authentication failed: the server refused the token (check the credentials block or access_token)"
      : r.stderr.trim().split("\n").slice(-3).join(" ");
    throw new WeirError("FAILED", ctx.scrub(`git ${args[0]} failed (exit ${r.code}): ${why}`));
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
 * `access_token` or a `credentials` block) reaches git as an Authorization header in its
 * environment (tokenEnv): never in its arguments, never printed, never in the clone's config.
 * Output: `directory`.
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
  description:
    "clone (or update) a git repository; a token goes to git in its environment, never its arguments",
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
    const auth = tokenEnv(args.repository, token, username);
    if (auth.GIT_CONFIG_VALUE_0) ctx.addSecret(auth.GIT_CONFIG_VALUE_0.slice("Authorization: Basic ".length));
    const url = args.repository;
    const name = basename(args.repository.replace(/\/+$/, "")).replace(/\.git$/, "");
    const dir = resolve(ctx.cwd, args.directory ?? (branch ? `${name}-${branch}` : name));
    if (existsSync(resolve(dir, ".git"))) {
      ctx.log.info(`Updating the existing clone in ${dir}`);
      await git(["fetch", "--depth", "1", url, branch ?? "HEAD"], dir, ctx, auth);
      await git(["reset", "--hard", "FETCH_HEAD"], dir, ctx);
      if (args.include_submodules === true)
        await git(["submodule", "update", "--init", "--recursive"], dir, ctx, auth);
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
        auth,
      );
    }
    return { directory: dir };
  },
});
