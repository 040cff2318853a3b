import type { Handoff } from "../../core/infra/index.ts";
import { WeirError } from "../../core/model/index.ts";

/**
 * Takes over a run handed to a warm `weir execute --warm` (see WarmExecutors): sets the run's
 * environment and working folder as a process started for it would have had them. Returns its id.
 */
export function applyHandoff(text: string): Pick<Handoff, "id" | "execution" | "accepts"> {
  let h: Handoff;
  try {
    h = JSON.parse(text) as Handoff;
  } catch {
    throw new WeirError("USAGE", "weir execute --warm expects the run to take as one line of JSON on stdin");
  }
  if (typeof h?.id !== "string" || typeof h.cwd !== "string" || typeof h.env !== "object" || !h.env)
    throw new WeirError("USAGE", "weir execute --warm: the JSON on stdin needs id, cwd and env");
  for (const [k, val] of Object.entries(h.env)) {
    if (val === null) delete process.env[k];
    else process.env[k] = val;
  }
  process.chdir(h.cwd);
  return {
    id: h.id,
    execution: h.execution,
    accepts: Array.isArray(h.accepts) ? h.accepts.filter((x) => typeof x === "string") : undefined,
  };
}
