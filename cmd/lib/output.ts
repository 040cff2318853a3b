import type { StateType } from "../../core/model/index.ts";

/** Colour only on a terminal, and never with NO_COLOR (https://no-color.org). */
export const useColor = (stream: NodeJS.WriteStream = process.stdout): boolean =>
  Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb";

const paint = (code: number) => (s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint(1);
export const dim = paint(2);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const blue = paint(34);
export const cyan = paint(36);

export function stateColor(type: StateType | string): (s: string) => string {
  switch (type) {
    case "COMPLETED":
      return green;
    case "FAILED":
    case "CRASHED":
      return red;
    case "CANCELLED":
    case "CANCELLING":
    case "PAUSED":
      return yellow;
    case "RUNNING":
      return blue;
    default:
      return cyan;
  }
}

/** A line of a long-running process's log (server, agent, scheduler): the time first. */
export const stamped = (m: string): string => `${new Date().toISOString()} ${m}`;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain text table; `color` functions apply after padding so columns stay aligned. */
export function printTable(headers: string[], rows: (string | [string, (s: string) => string])[][]): void {
  const text = (c: string | [string, (s: string) => string]) => (typeof c === "string" ? c : c[0]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => text(r[i] ?? "").length)));
  const line = (cells: (string | [string, (s: string) => string])[]) =>
    cells
      .map((c, i) => {
        const padded = text(c).padEnd(widths[i]!);
        return typeof c === "string" ? padded : c[1](padded);
      })
      .join("  ")
      .trimEnd();
  console.log(bold(line(headers)));
  for (const r of rows) console.log(line(r));
}

export function ago(iso: string | null): string {
  if (!iso) return "-";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 0) return `in ${duration(-s)}`;
  return `${duration(s)} ago`;
}

function duration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Aligned `Label  value` lines for one object (the human form of inspect commands). */
export function printFields(fields: [string, string | [string, (s: string) => string]][]): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields)
    console.log(`${bold(k.padEnd(width))}  ${typeof v === "string" ? v : v[1](v[0])}`);
}
