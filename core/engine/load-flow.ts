import { existsSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { WeirError } from "../model/index.ts";
import { type Flow, isFlow } from "../sdk/flow.ts";
import { flowLoading } from "../sdk/host.ts";

export interface Entrypoint {
  file: string;
  exportName: string;
}

/** Splits `path/file.ts:exportName` (the export defaults to `default`). */
export function parseEntrypoint(entrypoint: string): Entrypoint {
  const i = entrypoint.lastIndexOf(":");
  // a lone drive letter (C:\...) is part of the path, not a separator
  const hasExport = i > 1 && !/[\\/]/.test(entrypoint.slice(i + 1));
  const file = hasExport ? entrypoint.slice(0, i) : entrypoint;
  const exportName = hasExport ? entrypoint.slice(i + 1) : "default";
  if (!file)
    throw new WeirError(
      "INVALID",
      `Entrypoint "${entrypoint}" has no file (write it as path/file.ts:flowName)`,
    );
  return { file, exportName };
}

/** The files the runtime imports as code: TypeScript and JavaScript. */
export const TS_LIKE = /\.(ts|mts|cts|tsx|js|mjs|cjs|jsx)$/;

/**
 * Imports a flow from an entrypoint relative to `baseDir`. Every way this can go wrong (missing
 * file, not TypeScript, a syntax error, no such export, an export that is not a flow) becomes one
 * INVALID error naming the entrypoint and what to do.
 */
export async function loadFlow(
  entrypoint: string,
  baseDir: string,
  opts: {
    fresh?: boolean;
    /** A deployment's entrypoint must stay inside `baseDir` (no absolute path, no `../` out of it). */
    confined?: boolean;
  } = {},
): Promise<Flow> {
  const { file, exportName } = parseEntrypoint(entrypoint);
  if (!TS_LIKE.test(file)) {
    throw new WeirError(
      "INVALID",
      `Entrypoint "${entrypoint}" is not a TypeScript flow (expected a .ts file such as flows/hello.ts:hello)`,
    );
  }
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  const rel = relative(baseDir, path);
  if (opts.confined && (isAbsolute(file) || rel.startsWith("..") || isAbsolute(rel)))
    throw new WeirError(
      "INVALID",
      `Entrypoint "${entrypoint}" points outside the run's working directory ${baseDir} (a deployment's entrypoint is a path inside the folder its pull steps set, such as flows/hello.ts:hello)`,
    );
  if (opts.confined && existsSync(path)) {
    // Judged where it really is too: a link in the folder (a cloned repository's) may point out.
    const real = realpathSync(path);
    const realRel = relative(realpathSync(baseDir), real);
    if (realRel === ".." || realRel.startsWith(`..${sep}`) || isAbsolute(realRel))
      throw new WeirError(
        "INVALID",
        `Entrypoint "${entrypoint}" is a link to ${real}, outside the run's working directory ${baseDir} (a deployment's entrypoint is a file inside the folder its pull steps set)`,
      );
  }
  if (!existsSync(path)) {
    throw new WeirError(
      "INVALID",
      `Entrypoint "${entrypoint}": file ${path} does not exist (check the path; it is relative to ${baseDir})`,
    );
  }
  let mod: Record<string, unknown>;
  try {
    // A process that imports flows again and again (an agent with `--isolation none`) keys the
    // import by the file's modification time and size: an unchanged file stays loaded (and warm),
    // an edited one is imported anew. Files it imports itself stay as first loaded.
    const st = opts.fresh ? statSync(path) : null;
    flowLoading.depth++;
    try {
      mod = await import(st ? `${path}?v=${st.mtimeMs}-${st.size}` : path);
    } finally {
      flowLoading.depth--;
    }
  } catch (cause) {
    throw new WeirError(
      "INVALID",
      `Entrypoint "${entrypoint}" could not be loaded: ${sourcePlace(cause, baseDir)}${firstLine(cause)}`,
      { cause },
    );
  }
  // The part after ":" is an export's name, or else a flow's own name (what deploy() in code
  // writes, as it cannot know the export name of a flow).
  const value =
    mod[exportName] ??
    (() => {
      const named = Object.values(mod).filter((x) => isFlow(x) && x.options.name === exportName);
      return new Set(named).size === 1 ? named[0] : undefined;
    })();
  if (value === undefined) {
    const flows = Object.entries(mod)
      .filter(([, v]) => isFlow(v))
      .map(([k]) => k);
    const hint = flows.length
      ? `it exports these flows: ${flows.join(", ")}`
      : 'it exports no flows; wrap a function with flow() from "weir"';
    throw new WeirError(
      "INVALID",
      `Entrypoint "${entrypoint}": ${file} has no export named "${exportName}" (${hint})`,
    );
  }
  if (!isFlow(value)) {
    throw new WeirError(
      "INVALID",
      `Entrypoint "${entrypoint}": export "${exportName}" is not a flow (wrap it: export const ${exportName} = flow({ name: "..." }, async (params) => { ... }))`,
    );
  }
  return value;
}

/**
 * Where a syntax error is, as Bun's transpiler reports it (`position`, on the error or on the first
 * of several): "file:line:col: " with the file relative to the project when inside it.
 */
function sourcePlace(e: unknown, baseDir: string): string {
  type Position = { file?: string; line?: number; column?: number };
  const first = e as { position?: Position; errors?: { position?: Position }[] } | null;
  const at = first?.position ?? first?.errors?.find((x) => x?.position)?.position;
  if (!at?.file || !at.line) return "";
  const rel = relative(baseDir, at.file);
  const file = rel === ".." || rel.startsWith("../") || isAbsolute(rel) ? at.file : rel;
  return `${file}:${at.line}:${at.column ?? 1}: `;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0] ?? msg;
}
