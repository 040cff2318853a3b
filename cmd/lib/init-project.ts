import { existsSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createInterface } from "node:readline/promises";
import { stringify } from "yaml";
import { WeirError } from "../../core/model/index.ts";
import { DEFAULT_WEIRIGNORE, RECIPES, type RecipeContext, recipe } from "../../core/project/recipes.ts";

const git = (args: string[], cwd: string): string | undefined => {
  const r = Bun.spawnSync(["git", ...args], { cwd, stdout: "pipe", stderr: "ignore" });
  return r.exitCode === 0 ? r.stdout.toString().trim() || undefined : undefined;
};

/**
 * `weir init`: picks a recipe (given, or guessed: a git remote means git, a Dockerfile docker,
 * else local), fills its fields from --field, defaults, or (on a terminal only) prompts, and
 * writes weir.yaml and .weirignore, never overwriting either.
 */
export async function initProject(opts: { name?: string; recipe?: string; field?: string[] }): Promise<void> {
  const dir = process.cwd();
  const file = join(dir, "weir.yaml");
  if (existsSync(file))
    throw new WeirError(
      "INVALID",
      `${file} already exists; weir init does not overwrite it (edit it, or remove it first)`,
    );
  const ctx: RecipeContext = {
    dir,
    projectName: opts.name ?? basename(dir),
    gitRemote: git(["remote", "get-url", "origin"], dir),
    gitBranch: git(["rev-parse", "--abbrev-ref", "HEAD"], dir),
  };
  const guessed = ctx.gitRemote ? "git" : existsSync(join(dir, "Dockerfile")) ? "docker" : "local";
  const r = recipe(opts.recipe ?? guessed);
  const given: Record<string, string> = {};
  for (const pair of opts.field ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new WeirError("USAGE", `--field "${pair}" must look like KEY=VALUE`);
    const key = pair.slice(0, eq);
    if (!r.fields.some((f) => f.name === key)) {
      throw new WeirError(
        "USAGE",
        `Recipe ${r.name} has no field "${key}" (its fields: ${r.fields.map((f) => f.name).join(", ") || "none"})`,
      );
    }
    given[key] = pair.slice(eq + 1);
  }
  const values: Record<string, string> = {};
  const tty = Boolean(process.stdin.isTTY) && !process.env.CI;
  const rl = tty ? createInterface({ input: process.stdin, output: process.stdout }) : null;
  try {
    for (const f of r.fields) {
      const fallback = f.default?.(ctx);
      let value = given[f.name];
      if (value === undefined && rl)
        value = (await rl.question(`${f.prompt}${fallback ? ` [${fallback}]` : ""}: `)).trim() || fallback;
      value ??= fallback;
      if (!value) {
        throw new WeirError(
          "USAGE",
          `Recipe ${r.name} needs ${f.name} (${f.prompt}): pass --field ${f.name}=...`,
        );
      }
      values[f.name] = value;
    }
  } finally {
    rl?.close();
  }
  const sections = r.sections(values, ctx);
  const doc = {
    name: ctx.projectName,
    build: sections.build,
    push: sections.push,
    pull: sections.pull,
    deployments: [
      {
        name: "default",
        entrypoint: null,
        parameters: {},
        work_pool: {
          name: r.workPool?.name ?? "local",
          work_queue_name: null,
          job_variables: r.workPool?.job_variables ?? {},
        },
      },
    ],
  };
  // Recipes whose steps come from a plugin this build lacks say so now, not at the first deploy.
  const { registry } = await import("./registry.ts");
  const needs = new Map<string, string[]>();
  for (const step of [sections.build, sections.push, sections.pull].flat()) {
    const name = Object.keys((step ?? {}) as object)[0] ?? "";
    const plugin = registry().missingPlugin(name);
    if (plugin) needs.set(plugin, [...(needs.get(plugin) ?? []), name.replace(/^weir\.steps\./, "")]);
  }
  const pending = [...needs].map(([plugin, steps]) => `${steps.join(", ")} need Weir's ${plugin} plugin`);
  const header = `# Weir project file, from the ${r.name} recipe (${r.description}).
# Set each deployment's entrypoint (path/file.ts:exportedFlow), then: weir deploy --all
${pending.map((p) => `# Not in this build of Weir yet: ${p}; weir deploy refuses these steps until it has it.\n`).join("")}`;
  writeFileSync(file, header + stringify(doc, { nullStr: "null" }));
  const ignore = join(dir, ".weirignore");
  const wroteIgnore = !existsSync(ignore);
  if (wroteIgnore) writeFileSync(ignore, DEFAULT_WEIRIGNORE);
  console.log(
    `Wrote weir.yaml (recipe ${r.name}${opts.recipe ? "" : ", guessed"})${wroteIgnore ? " and .weirignore" : ""}`,
  );
  // Recipes that name a credentials block say how to create it.
  if (values.credentials)
    console.log(
      `Create the credentials block it uses: weir block create aws-credentials ${values.credentials} --field aws_access_key_id=... --field aws_secret_access_key=... (for a server other than AWS add --json '{"aws_client_parameters": {"endpoint_url": "http://host:9000"}}' fields; see weir block types)`,
    );
  const pool = r.workPool ?? { name: "local", type: "process" };
  console.log(
    `Its deployment runs in work pool "${pool.name}"; create it once with: weir work-pool create ${pool.name} --type ${pool.type}`,
  );
  if (r.note) console.log(`Note: ${r.note}`);
  for (const p of pending)
    console.log(
      `Note: ${p}, which this build does not include yet: weir deploy will refuse those steps until it does`,
    );
  console.log(
    `Recipes: ${RECIPES.map((x) => x.name).join(", ")}. Next: set entrypoint in weir.yaml, then weir deploy --all`,
  );
}
