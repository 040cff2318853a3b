import { didYouMean } from "./did-you-mean.ts";
import { WeirError } from "./errors.ts";

export const STATE_TYPES = [
  "SCHEDULED",
  "PENDING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "CRASHED",
  "PAUSED",
  "CANCELLING",
] as const;
export type StateType = (typeof STATE_TYPES)[number];

export const TERMINAL_STATES: ReadonlySet<StateType> = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "CRASHED",
]);
export const isTerminal = (t: StateType): boolean => TERMINAL_STATES.has(t);

/** Default display name of each type (named states such as Late or Retrying override it). */
export const DEFAULT_STATE_NAMES: Record<StateType, string> = {
  SCHEDULED: "Scheduled",
  PENDING: "Pending",
  RUNNING: "Running",
  COMPLETED: "Completed",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
  CRASHED: "Crashed",
  PAUSED: "Paused",
  CANCELLING: "Cancelling",
};

/**
 * Named states a run list may be filtered by besides the types, as Prefect's `flow-run ls
 * --state` takes them: the key upper-case, the value the state name runs carry.
 */
export const NAMED_STATES: Record<string, string> = {
  LATE: "Late",
  AWAITINGRETRY: "AwaitingRetry",
  RETRYING: "Retrying",
};

/** `state=a,b` of a run list, any case: state types and named states, or an error naming the word. */
export function parseStateFilter(
  words: string[],
  what: string,
  code: "USAGE" | "INVALID",
): { types: StateType[]; names: string[] } {
  const types: StateType[] = [];
  const names: string[] = [];
  const all = [...STATE_TYPES, ...Object.keys(NAMED_STATES)];
  for (const word of words) {
    const w = word
      .trim()
      .toUpperCase()
      .replace(/[\s_-]/g, "");
    if ((STATE_TYPES as readonly string[]).includes(w)) types.push(w as StateType);
    else if (NAMED_STATES[w]) names.push(NAMED_STATES[w]);
    else {
      const near = didYouMean(w, all);
      throw new WeirError(
        code,
        `${what} "${word.trim()}" is not a state type or named state${near ? ` (did you mean ${near}?)` : ""}; use ${all.join(", ")}`,
      );
    }
  }
  return { types, names };
}

/** A state as clients propose it. */
export interface StateProposal {
  type: StateType;
  name?: string;
  message?: string;
  /** Structured detail kept with the state (error stack, result summary, retry time...). */
  data?: Record<string, unknown>;
  /** For SCHEDULED: when the run may start (ISO 8601). */
  scheduledTime?: string;
}

/**
 * Which state may follow which. Terminal states are final: a finished run is re-run by creating a
 * new run, so history never lies. SCHEDULED → SCHEDULED covers renames such as Late, and
 * RUNNING → SCHEDULED is AwaitingRetry.
 */
const ALLOWED: Record<StateType, ReadonlySet<StateType>> = {
  SCHEDULED: new Set(["SCHEDULED", "PENDING", "RUNNING", "CANCELLING", "CANCELLED", "CRASHED", "FAILED"]),
  PENDING: new Set(["RUNNING", "SCHEDULED", "CANCELLING", "CANCELLED", "CRASHED", "FAILED", "COMPLETED"]),
  RUNNING: new Set([
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "CRASHED",
    "CANCELLING",
    "CANCELLED",
    "PAUSED",
    "SCHEDULED",
  ]),
  PAUSED: new Set(["RUNNING", "CANCELLING", "CANCELLED", "CRASHED", "FAILED", "SCHEDULED"]),
  CANCELLING: new Set(["CANCELLED", "CRASHED", "FAILED", "COMPLETED"]),
  COMPLETED: new Set(),
  FAILED: new Set(),
  CANCELLED: new Set(),
  CRASHED: new Set(),
};

export function canTransition(from: StateType | null, to: StateType): boolean {
  if (from === null) return to === "SCHEDULED" || to === "PENDING" || to === "RUNNING";
  return ALLOWED[from].has(to);
}

/** Throws a CONFLICT error explaining why `from → to` is refused. */
export function assertTransition(runLabel: string, from: StateType | null, to: StateType): void {
  if (canTransition(from, to)) return;
  const why =
    from !== null && isTerminal(from)
      ? `it is already ${DEFAULT_STATE_NAMES[from]} and finished runs do not change state`
      : `a run in state ${from ?? "(none)"} cannot move to ${to}`;
  throw new WeirError("CONFLICT", `Cannot set ${runLabel} to ${to}: ${why}`, {
    fields: { from, to },
  });
}
