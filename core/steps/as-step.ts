import type { StepContext } from "../plugin/index.ts";

/** A user-written step (a local module or a package): its kwargs as written, resolved. */
export type StepFn = (
  kwargs: Record<string, unknown>,
  ctx: StepContext,
) => Promise<Record<string, unknown> | undefined>;

/**
 * A user function (local module or package) as a step: it gets its own arguments without the
 * reserved `id` and `requires`, and an object it returns becomes the step's output.
 */
export function asStep(fn: (kwargs: Record<string, unknown>) => unknown): StepFn {
  return async (kwargs) => {
    const { id: _id, requires: _requires, ...rest } = kwargs;
    const out = await fn(rest);
    return out && typeof out === "object" && !Array.isArray(out)
      ? (out as Record<string, unknown>)
      : undefined;
  };
}
