import type { Store } from "../store/index.ts";
import type { Wakeups } from "./wakeups.ts";

export interface ApiContext {
  store: Store;
  wakeups: Wakeups;
  version: string;
  /** Schedules these deployments now (after a create or a schedule change), not at the next loop. */
  scheduleNow?: (deploymentIds: string[]) => Promise<unknown>;
}
