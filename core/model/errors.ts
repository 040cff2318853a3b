/**
 * The one error class Weir throws on purpose. `code` is stable and decides the exit code (cmd/program.ts)
 * and the HTTP status (the API's onError); `message` is written for the person reading it: what
 * could not be done, why, and what to do.
 */
export type ErrorCode =
  | "NOT_FOUND" // a named thing does not exist
  | "INVALID" // input was rejected (file, flag, field, parameter)
  | "CONFLICT" // the request clashes with current state (illegal transition, duplicate)
  | "UNREACHABLE" // a service (the API) could not be reached
  | "USAGE" // the command line itself is wrong
  | "BUSY" // the server has too much of this work under way: try again shortly
  | "UNAUTHORIZED" // no API token, or one that is not valid (expired, revoked, unknown)
  | "FORBIDDEN" // the token's scope does not allow this
  | "UNSUPPORTED" // a request the server refuses by its form (a write that is not JSON)
  | "RATE_LIMITED" // too many failed attempts: wait
  | "FAILED"; // an operation ran and failed (a flow run, a step)

export class WeirError extends Error {
  readonly code: ErrorCode;
  readonly fields: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; fields?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WeirError";
    this.code = code;
    this.fields = options.fields ?? {};
  }
}

export const isWeirError = (e: unknown): e is WeirError => e instanceof WeirError;

/** A short, single-line description of any thrown value, for messages and state details. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === "string") return e;
  // `throw undefined` (or a function): JSON has no text for it, and an empty reason says nothing.
  if (e === undefined) return "undefined was thrown";
  if (typeof e === "function" || typeof e === "symbol") return `a ${typeof e} was thrown`;
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}
