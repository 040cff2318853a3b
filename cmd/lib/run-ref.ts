import type { WeirClient } from "../../core/client/index.ts";
import { WeirError } from "../../core/model/index.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A flow run's id from what a person typed: its id, or the name `flow-run ls` and the UI show
 * (calm-ocelot). Names are not unique: several runs of one name are listed for the id to be given.
 */
export async function flowRunId(client: WeirClient, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  // An empty name (a script's unset variable) would match every run: the first one found would
  // be cancelled or retried.
  if (ref.trim() === "")
    throw new WeirError(
      "USAGE",
      "The flow run must be named: give its id or name (list runs with: weir flow-run ls)",
    );
  const named = await client.listFlowRuns({ name: ref, limit: 6 });
  if (named.length === 1) return named[0]!.id;
  if (named.length === 0)
    throw new WeirError(
      "NOT_FOUND",
      `No flow run has the id or name "${ref}" (list runs with: weir flow-run ls)`,
    );
  const shown = named.slice(0, 5).map((r) => `${r.id} (${r.flow_name}, created ${r.created})`);
  throw new WeirError(
    "USAGE",
    `${named.length > 5 ? "More than 5" : named.length} flow runs are named "${ref}": give the id of one (${shown.join("; ")})`,
  );
}
