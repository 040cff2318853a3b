import { formatWithOptions } from "node:util";
import { LOG_LEVELS, type LogLevelName, levelName } from "../model/index.ts";

export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warning(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  critical(...args: unknown[]): void;
}

export type LogSink = (level: number, message: string) => void;

export const formatArgs = (args: unknown[]): string =>
  formatWithOptions({ colors: false, depth: 6 }, ...args);

export function makeLogger(sink: LogSink): Logger {
  const at =
    (name: LogLevelName) =>
    (...args: unknown[]) =>
      sink(LOG_LEVELS[name], formatArgs(args));
  return {
    debug: at("debug"),
    info: at("info"),
    warning: at("warning"),
    warn: at("warning"),
    error: at("error"),
    critical: at("critical"),
  };
}

export const consoleLogger: Logger = makeLogger((level, message) => {
  const line = `${new Date().toISOString()} ${levelName(level).padEnd(7)} ${message}`;
  if (level >= LOG_LEVELS.warning) console.error(line);
  else console.log(line);
});
