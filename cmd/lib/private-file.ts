import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { WeirError } from "../../core/model/index.ts";

/** A file only its owner may read (mode 600), or null when it does not exist; refuses one others can read. */
export function readPrivate(file: string): string | null {
  if (!existsSync(file)) return null;
  if ((statSync(file).mode & 0o077) !== 0)
    throw new WeirError(
      "INVALID",
      `${file} can be read by other users: make it private with: chmod 600 ${file}`,
    );
  return readFileSync(file, "utf8");
}

/** Writes a private file whole: to a temporary file first, then renamed (never half written). */
export function writePrivate(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.new`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/**
 * Creates a private file with `text` unless it exists. Servers starting together on one WEIR_HOME
 * end with one file: the first to land wins (a hard link fails when the name exists) and the
 * others get its text. Returns the file's text and whether this call wrote it.
 */
export function createPrivateOnce(file: string, text: string): { text: string; created: boolean } {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  try {
    linkSync(tmp, file);
    return { text, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return { text: readFileSync(file, "utf8"), created: false };
  } finally {
    rmSync(tmp, { force: true });
  }
}
