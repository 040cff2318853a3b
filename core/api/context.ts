import type { FlowRunWriter, Store } from "../store/index.ts";
import type { Wakeups } from "./wakeups.ts";

export interface ApiContext {
  store: Store;
  wakeups: Wakeups;
  version: string;
  /** Batches concurrent run creations into shared transactions (made by createApp when absent). */
  runWriter?: FlowRunWriter;
  /** Schedules these deployments now (after a create or a schedule change), not at the next loop. */
  scheduleNow?: (deploymentIds: string[]) => Promise<unknown>;
  /** Longest a waiting claim goes without re-checking the database (default 1 s). */
  claimRecheckMs?: number;
}
