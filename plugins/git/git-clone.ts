import { existsSync, mkdirSync } from "node:fs";
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
 * User info written into an https URL (`https://TOKEN@host/...`, `https://user:TOKEN@host/...`):
 * taken out, so that it goes to git as a header like any other token and never shows in the log,
 * git's arguments or the clone's .git/config.
 */
export function urlCredentials(repository: string): {
  url: string;
  token?: string;
  username?: string;
} {
  let url: URL;
  try {
    url = new URL(repository);
  } catch {
    return { url: repository };
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || (!url.username && !url.password))
    return { url: repository };
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = "";
  url.password = "";
  if (password) return { url: url.href, token: password, username };
  // https://TOKEN@host (GitHub's and GitLab's documented form) holds a token; https://user@host
  // (Bitbucket's clone URL) only a user name, for git's credential helper: left as it is.
  return /^(gh[pousr]_|github_pat_|glpat-)/.test(username) || username.length >= 32
    ? { url: url.href, token: username }
    : { url: repository };
}

/**
 * Prefect's git_clone: clones `repository` (a branch, or one commit with `commit_sha`; with
 * submodules; only some folders with `directories`) into `<name>[-<branch>]` in the working
 * directory (or `clone_directory_name` / `directory`), or updates that clone if it exists. A token
 * (from `access_token`, a `credentials` block, or written into the URL) reaches git as an
 * Authorization header in its environment (tokenEnv): never in its arguments, never printed,
 * never in the clone's config. Output: `directory`.
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
  args: v.pipe(
    v.strictObject({
      repository: v.pipe(v.string("must be the repository URL"), v.minLength(1, "must not be empty")),
      branch: v.nullish(v.string("must be a branch name")),
      commit_sha: v.nullish(
        v.pipe(
          v.string("must be a commit's full hash"),
          // A fetch by hash takes the whole id: an abbreviated one is no ref a server has.
          v.regex(
            /^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/,
            "must be a commit's full hash (40 hexadecimal characters; git rev-parse HEAD prints it)",
          ),
        ),
      ),
      include_submodules: v.optional(v.boolean("must be true or false")),
      access_token: v.nullish(v.string("must be a token (a string), or use credentials")),
      credentials,
      directories: v.nullish(
        v.array(
          v.pipe(v.string("must be a folder of the repository"), v.minLength(1, "must not be empty")),
          "must be a list of the repository's folders to check out",
        ),
      ),
      clone_directory_name: v.nullish(v.string("must be a folder name")),
      directory: v.optional(v.string("must be a folder path")),
    }),
    v.check(
      (a) => !(a.access_token && a.credentials),
      "give either access_token or credentials, not both (as Prefect requires)",
    ),
    v.check(
      (a) => !(a.branch && a.commit_sha),
      "give either branch or commit_sha, not both (as Prefect requires)",
    ),
  ),
  async run(args, ctx) {
    const branch = args.branch || undefined;
    const sha = args.commit_sha || undefined;
    const creds = (args.credentials ?? {}) as Record<string, unknown>;
    const inUrl = urlCredentials(args.repository);
    if (inUrl.token) {
      ctx.addSecret(inUrl.token);
      ctx.addSecret(encodeURIComponent(inUrl.token));
    }
    const token =
      args.access_token ??
      (typeof creds.token === "string"
        ? creds.token
        : typeof creds.access_token === "string"
          ? creds.access_token
          : inUrl.token);
    const username = typeof creds.username === "string" ? creds.username : inUrl.username;
    if (token) {
      ctx.addSecret(token);
      ctx.addSecret(encodeURIComponent(token));
    }
    if (inUrl.token)
      ctx.log.warning(
        "git_clone: the repository URL holds credentials; they were taken out of it and sent to git as a header (keep them in a credentials block instead: the URL is stored with the deployment)",
      );
    const url = inUrl.url;
    const auth = tokenEnv(url, token, username);
    if (auth.GIT_CONFIG_VALUE_0) ctx.addSecret(auth.GIT_CONFIG_VALUE_0.slice("Authorization: Basic ".length));
    const name = basename(url.replace(/\/+$/, "")).replace(/\.git$/, "");
    const folder = args.directory ?? args.clone_directory_name ?? (branch ? `${name}-${branch}` : name);
    const dir = resolve(ctx.cwd, folder);
    const dirs = args.directories ?? [];
    const what = `${url}${branch ? ` (branch ${branch})` : ""}${sha ? ` (commit ${sha})` : ""}${dirs.length ? ` (folders ${dirs.join(", ")})` : ""}`;
    const fresh = !existsSync(resolve(dir, ".git"));
    if (!fresh) {
      ctx.log.info(`Updating the existing clone in ${dir} from ${what}`);
      await git(["fetch", "--depth", "1", url, sha ?? branch ?? "HEAD"], dir, ctx, auth);
      await git(["reset", "--hard", "FETCH_HEAD"], dir, ctx);
    } else if (sha) {
      // One commit: fetched by its hash (hosts allow it for commits on their branches), then
      // checked out detached, as Prefect's clone does.
      ctx.log.info(`Cloning ${what} into ${dir}`);
      mkdirSync(dir, { recursive: true });
      await git(["init", "-q"], dir, ctx);
      await git(["remote", "add", "origin", url], dir, ctx);
      if (dirs.length) await git(["sparse-checkout", "set", ...dirs], dir, ctx);
      await git(["fetch", "--depth", "1", "origin", sha], dir, ctx, auth);
      await git(["checkout", "-q", "--detach", "FETCH_HEAD"], dir, ctx);
    } else {
      ctx.log.info(`Cloning ${what} into ${dir}`);
      await git(
        [
          "clone",
          "--depth",
          "1",
          ...(branch ? ["--branch", branch] : []),
          ...(dirs.length ? ["--sparse"] : []),
          ...(args.include_submodules === true && !dirs.length ? ["--recurse-submodules"] : []),
          url,
          dir,
        ],
        ctx.cwd,
        ctx,
        auth,
      );
      if (dirs.length) await git(["sparse-checkout", "set", ...dirs], dir, ctx, auth);
    }
    if (args.include_submodules === true && (!fresh || sha || dirs.length))
      await git(["submodule", "update", "--init", "--recursive", "--depth", "1"], dir, ctx, auth);
    return { directory: dir };
  },
});
