import { existsSync, lstatSync, readdirSync, readFileSync, type Stats, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import ignore from "ignore";

export interface LocalFile {
  /** Path relative to the root, with / separators (the object key below the folder). */
  rel: string;
  abs: string;
  size: number;
  /** Permission bits (an executable stays executable in an image). */
  mode: number;
  mtime: Date;
}

/**
 * Which ignore file applies: the one named (relative to the root, or absolute), else with none
 * named `.weirignore`, else `.prefectignore` (what a project from Prefect has). Null when it does
 * not exist, or when null or "" is given (Prefect's "no filtering"): then every file goes.
 */
export function ignoreFileFor(root: string, named: string | null | undefined): string | null {
  if (named === null || named === "") return null;
  const candidates = named !== undefined ? [named] : [".weirignore", ".prefectignore"];
  for (const c of candidates) if (existsSync(resolve(root, c))) return c;
  return null;
}

/**
 * The files under `root` an upload takes: every file (dot-files too), less what the ignore file
 * excludes with gitignore semantics. An ignored folder is not descended into; empty folders are
 * never listed; symbolic links to folders are not followed.
 */
export function projectFiles(
  root: string,
  ignoreFile: string | null,
  /** Another rule to leave a path out by (a .dockerignore); a folder it leaves out is not entered. */
  exclude?: (rel: string, isDir: boolean) => boolean,
  /**
   * Whether a link to a file goes as that file (uploads, as Prefect's do). A Docker build context
   * leaves links out: the docker CLI sends a link as a link, never the file outside it points to.
   */
  followLinks = true,
): LocalFile[] {
  const ig = ignore();
  // Each line stripped, as Prefect reads its .prefectignore (its own examples indent them).
  if (ignoreFile)
    ig.add(
      readFileSync(resolve(root, ignoreFile), "utf8")
        .split(/\r?\n/)
        .map((l) => l.trim()),
    );
  const out: LocalFile[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name);
      const rel = relative(root, abs).split(sep).join("/");
      let st = lstatSync(abs);
      // A link to a file goes as the file it points to (as Prefect's upload reads it); a link to
      // a folder is not followed (it could loop), nor is a broken one.
      if (st.isSymbolicLink()) {
        if (!followLinks) continue;
        const target = statOrNull(abs);
        if (!target?.isFile()) continue;
        st = target;
      }
      if (st.isDirectory()) {
        if (!ig.ignores(`${rel}/`) && !exclude?.(rel, true)) walk(abs);
      } else if (st.isFile() && !ig.ignores(rel) && !exclude?.(rel, false)) {
        out.push({ rel, abs, size: st.size, mode: st.mode & 0o7777, mtime: st.mtime });
      }
    }
  };
  walk(root);
  return out;
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** The object key of a file: `<folder>/<relative path>`, or the relative path when folder is empty. */
export function objectKey(folder: string, rel: string): string {
  const f = folder.replace(/^\/+|\/+$/g, "");
  return f ? `${f}/${rel}` : rel;
}

/** Bytes as a short human figure (1.2 MiB). */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let x = n;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(1)} ${units[i]}`;
}
