import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WeirError, weirHome } from "../model/index.ts";
import type { StepFn } from "./as-step.ts";
import { asStep } from "./as-step.ts";

const SPEC = /^((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)((?:\/[\w.-]+)*):([A-Za-z_$][\w$]*)$/;

/** The npm package of a package step (`package/subpath:export`), or undefined for other names. */
export const stepPackage = (name: string): string | undefined => SPEC.exec(name)?.[1];

/** Whether a package step's package is already installed where runs would load it from. */
export function packageStepInstalled(name: string): boolean {
  const m = SPEC.exec(name);
  return Boolean(m && existsSync(join(pluginsDir().dir, "node_modules", m[1]!, "package.json")));
}

/** Where step packages live: WEIR_PLUGINS_DIR (air-gapped: never installs), else $WEIR_HOME/plugins. */
function pluginsDir(): { dir: string; offline: boolean } {
  const offline = process.env.WEIR_PLUGINS_DIR;
  return offline ? { dir: offline, offline: true } : { dir: join(weirHome(), "plugins"), offline: false };
}

/**
 * A step from an npm package, `package/subpath:export` (e.g. weir-steps-slack/steps:post). The
 * binary installs the step's `requires` itself (its built-in package manager: no npm or Bun on the
 * machine), into $WEIR_HOME/plugins, once; with WEIR_PLUGINS_DIR set it only reads from there.
 */
export async function packageStep(name: string, requires: unknown): Promise<StepFn | undefined> {
  const m = SPEC.exec(name);
  if (!m) return undefined;
  const [, pkg, , exportName] = m as unknown as [string, string, string, string];
  const { dir, offline } = pluginsDir();
  const installed = existsSync(join(dir, "node_modules", pkg, "package.json"));
  // Installed from another `requires` than the step now gives (a version bumped in the file):
  // installed again, or the old one would run for ever on every machine that had it.
  const marker = join(dir, "node_modules", ".weir-requires", encodeURIComponent(pkg));
  const changed =
    installed &&
    !offline &&
    typeof requires === "string" &&
    requires !== "" &&
    (existsSync(marker) ? readFileSync(marker, "utf8") : "") !== requires;
  if (changed) {
    await install(dir, requires as string);
    mkdirSync(join(dir, "node_modules", ".weir-requires"), { recursive: true });
    writeFileSync(marker, requires as string);
  }
  if (!installed) {
    if (offline) {
      throw new WeirError(
        "INVALID",
        `step package ${pkg} is not in WEIR_PLUGINS_DIR (${dir}): copy an installed node_modules/${pkg} there, or unset WEIR_PLUGINS_DIR to install it from the registry`,
      );
    }
    if (typeof requires !== "string" || !requires) {
      throw new WeirError(
        "INVALID",
        `step package ${pkg} is not installed: add \`requires: ${pkg}@VERSION\` to the step so weir installs it`,
      );
    }
    await install(dir, requires);
    mkdirSync(join(dir, "node_modules", ".weir-requires"), { recursive: true });
    writeFileSync(marker, requires);
    if (!existsSync(join(dir, "node_modules", pkg, "package.json"))) {
      throw new WeirError(
        "INVALID",
        `installing "${requires}" did not provide the package ${pkg} (check the step name and requires)`,
      );
    }
  }
  let path: string;
  try {
    path = Bun.resolveSync(name.slice(0, name.lastIndexOf(":")), dir);
  } catch (e) {
    throw new WeirError(
      "INVALID",
      `step package ${pkg} has no module ${name.slice(0, name.lastIndexOf(":"))}: ${(e as Error).message}`,
    );
  }
  const mod = (await import(path)) as Record<string, unknown>;
  const fn = mod[exportName];
  if (typeof fn !== "function")
    throw new WeirError("INVALID", `step package module ${path} has no function export "${exportName}"`);
  return asStep(fn as (k: Record<string, unknown>) => unknown);
}

async function install(dir: string, spec: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, "package.json")))
    writeFileSync(join(dir, "package.json"), '{ "name": "weir-plugins", "private": true }\n');
  // The compiled binary acts as Bun's own CLI with BUN_BE_BUN=1 (from source, execPath is bun).
  const proc = Bun.spawn([process.execPath, "add", spec], {
    cwd: dir,
    env: { ...process.env, BUN_BE_BUN: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0)
    throw new WeirError(
      "FAILED",
      `installing step package "${spec}" failed: ${stderr.trim().split("\n").slice(-3).join(" ")}`,
    );
}
