import type { Authenticator, SecretBox } from "../auth/index.ts";
import type { Limits } from "../config/index.ts";
import type { Registry } from "../plugin/index.ts";
import type { DateExpander } from "../schedules/index.ts";
import type { FlowRunWriter, Store } from "../store/index.ts";
import type { BodySchemas } from "./schemas.ts";
import type { Wakeups } from "./wakeups.ts";

export interface ApiContext {
  store: Store;
  wakeups: Wakeups;
  version: string;
  /** The plugins of this build (their block types); Weir's built-in ones only when absent. */
  registry?: Registry;
  /** Size and shape limits (DEFAULT_LIMITS when absent). */
  limits?: Limits;
  /** Request body schemas built from the limits (made by createApp). */
  schemas?: BodySchemas;
  /** Computes schedule run times under a time box (made by createApp when absent). */
  expander?: DateExpander;
  /** Batches concurrent run creations into shared transactions (made by createApp when absent). */
  runWriter?: FlowRunWriter;
  /** Schedules these deployments now (after a create or a schedule change), not at the next loop. */
  scheduleNow?: (deploymentIds: string[]) => Promise<unknown>;
  /** Longest a waiting claim goes without re-checking the database (default 1 s). */
  claimRecheckMs?: number;
  /** An agent silent this long is OFFLINE and its runs are crashed (default 25 s). */
  agentTimeoutMs?: number;
  /** Checks API tokens; absent or null: open mode (a loopback server for local development). */
  auth?: Authenticator | null;
  /**
   * Host names requests may be addressed to (DNS rebinding: a page whose name resolves to
   * 127.0.0.1 must not reach an open server). Default: loopback names; null: any (with auth on).
   */
  allowedHosts?: string[] | null;
  /** Seals secret block fields before they are stored (absent: stored as given, as in tests). */
  secretBox?: SecretBox | null;
  /** The server serves HTTPS (session cookies are then Secure). */
  tls?: boolean;
}

/** The context once createApp() has filled in its defaults. */
export type ReadyContext = ApiContext &
  Required<Pick<ApiContext, "limits" | "schemas" | "expander" | "runWriter" | "registry">>;

/**
 * What this server takes beyond the basics, said to agents and engines in `x-weir-accepts` (an
 * older server says less, and its clients keep to what it does say): task runs riding with a
 * flow run's state, and a claim's `start` as a number.
 */
export const SERVER_ACCEPTS = "task_runs, claim_start_count";
