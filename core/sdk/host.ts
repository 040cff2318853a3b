// errors.ts alone: main.ts installs the host on every start, so this module stays light.
import { WeirError } from "../model/errors.ts";
import type { Registry } from "../plugin/index.ts";

/**
 * What the SDK needs from the binary that runs it and cannot import itself (core stays free of
 * the plugins): the registry of steps, block types and infrastructure of this build. main.ts
 * installs it; flow code reached without it (imported by a bare Bun, say) gets a clear error.
 */
export interface SdkHost {
  registry(): Promise<Registry>;
}

let host: SdkHost | null = null;

export function setSdkHost(h: SdkHost): void {
  host = h;
}

export function sdkHost(what: string): SdkHost {
  if (!host)
    throw new WeirError(
      "INVALID",
      `${what} works in code the weir binary runs (weir run script.ts, a flow run): run this script with: weir run FILE.ts`,
    );
  return host;
}

/**
 * Set while the engine imports a file to run a flow from it: top-level deploy() or serve() calls
 * in that file are the script's own business, not the run's, and do nothing then.
 */
export const flowLoading = { depth: 0 };
