import type { LineCounter } from "yaml";
import { WeirError } from "../model/index.ts";

export interface SourcePos {
  file: string;
  /** 1 and up; 0 for what has no place in a file (flags). */
  line: number;
  col: number;
}

/** `file:line:col: message`, then the offending line with a caret under the column. */
export function formatAt(pos: SourcePos, message: string, source?: string): string {
  // Flags have no file to point into (a deployment given on the command line): the message alone.
  if (pos.line === 0) return message;
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

export { didYouMean } from "../model/index.ts";
