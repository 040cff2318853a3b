// {{ }} placeholders: the syntax prefect.yaml uses, with weir. and prefect. namespaces.

/** Names allowed inside {{ }}: letters, digits, _ . - [ ] $ (anything else is left as text). */
export const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.\-[\]$]+)\s*\}\}/g;

export type PlaceholderKind = "env" | "variable" | "block" | "value";

export interface Placeholder {
  /** The whole `{{ ... }}` text. */
  full: string;
  /** The name inside, trimmed. */
  name: string;
  kind: PlaceholderKind;
}

export function kindOf(name: string): PlaceholderKind {
  if (name.startsWith("$")) return "env";
  if (/^(weir|prefect)\.variables\./.test(name)) return "variable";
  if (/^(weir|prefect)\.blocks\./.test(name)) return "block";
  return "value";
}

export function placeholders(text: string): Placeholder[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => ({ full: m[0], name: m[1]!, kind: kindOf(m[1]!) }));
}

/** A string that is exactly one placeholder keeps the type of its value. */
export function wholePlaceholder(text: string): Placeholder | null {
  const all = placeholders(text);
  return all.length === 1 && all[0]!.full === text ? all[0]! : null;
}

/** Splits `people[0].name` or `build-image.image` into keys and indexes. */
export function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

export const NOT_FOUND = Symbol("not found");

export function getPath(root: unknown, path: (string | number)[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return NOT_FOUND;
    if (typeof key === "number") {
      if (!Array.isArray(cur) || key >= cur.length) return NOT_FOUND;
      cur = cur[key];
    } else {
      if (Array.isArray(cur) || !Object.hasOwn(cur, key)) return NOT_FOUND;
      cur = (cur as Record<string, unknown>)[key];
    }
  }
  return cur;
}

/** Non-strings placed inside text are rendered as JSON (true, null, {"a":1}). */
export const asText = (v: unknown): string => (typeof v === "string" ? v : (JSON.stringify(v) ?? ""));

/** The names of the {{ step-output }} placeholders anywhere in a value (strings inside it). */
export function valueNames(x: unknown): Set<string> {
  return new Set(valuePlaces(x).map((p) => p.name));
}

/** Each placeholder of one kind in a value ({{ step-output }} by default), with the path of its string. */
export function valuePlaces(
  x: unknown,
  kind: PlaceholderKind = "value",
  path: (string | number)[] = [],
  out: { path: (string | number)[]; name: string }[] = [],
): { path: (string | number)[]; name: string }[] {
  if (typeof x === "string") {
    for (const p of placeholders(x)) if (p.kind === kind) out.push({ path, name: p.name });
  } else if (Array.isArray(x)) for (const [i, y] of x.entries()) valuePlaces(y, kind, [...path, i], out);
  else if (x && typeof x === "object")
    for (const [k, y] of Object.entries(x)) valuePlaces(y, kind, [...path, k], out);
  return out;
}

/**
 * Prefect's rule for a string with a block placeholder: the placeholder must be the whole string.
 * True when it holds one with other text or with another placeholder (which no resolver can fill).
 */
export function blockNotAlone(text: string): boolean {
  const all = placeholders(text);
  const blocks = all.filter((p) => p.kind === "block");
  return blocks.length > 0 && (all.length > 1 || blocks[0]!.full !== text.trim());
}

/** Strings in a value that hold a block placeholder with other text (or a second placeholder). */
export function blockInText(
  x: unknown,
  path: (string | number)[] = [],
): { path: (string | number)[]; text: string }[] {
  if (typeof x === "string") return blockNotAlone(x) ? [{ path, text: x }] : [];
  if (Array.isArray(x)) return x.flatMap((y, i) => blockInText(y, [...path, i]));
  if (x && typeof x === "object") return Object.entries(x).flatMap(([k, y]) => blockInText(y, [...path, k]));
  return [];
}
