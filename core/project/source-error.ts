import type { LineCounter } from "yaml";
import { WeirError } from "../model/index.ts";

export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

/** `file:line:col: message`, then the offending line with a caret under the column. */
export function formatAt(pos: SourcePos, message: string, source?: string): string {
  const head = `${pos.file}:${pos.line}:${pos.col}: ${message}`;
  const text = source?.split("\n")[pos.line - 1];
  if (text === undefined) return head;
  const gutter = String(pos.line).length;
  return `${head}\n  ${pos.line} | ${text}\n  ${" ".repeat(gutter)} | ${" ".repeat(Math.max(0, pos.col - 1))}^`;
}

export function posOf(file: string, lines: LineCounter, offset: number | undefined): SourcePos {
  if (offset === undefined) return { file, line: 1, col: 1 };
  const { line, col } = lines.linePos(offset);
  return { file, line, col };
}

/** A problem in a project file: INVALID, with every position-tagged message in one error. */
export function sourceError(problems: string[]): WeirError {
  return new WeirError("INVALID", problems.join("\n"), { fields: { problems } });
}

/** The closest candidate by edit distance, when it is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
