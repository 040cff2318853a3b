import type { Store } from "../store/index.ts";
import type { Wakeups } from "./wakeups.ts";

export interface ApiContext {
  store: Store;
  wakeups: Wakeups;
  version: string;
}
