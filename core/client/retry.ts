import { WeirError } from "../model/index.ts";

/**
 * Calls `attempt` until it answers, trying again with backoff (from `firstWaitMs`, doubling, at most
 * 10 s) while no server answers (UNREACHABLE), until `deadline`. Any other error, or the
 * deadline, ends it with that error. `waitFirst`: the first call comes after a wait too (the
 * caller already tried once). `onRetry` hears each failure that will be tried again.
 */
export async function untilAnswered<T>(
  attempt: () => Promise<T>,
  o: {
    deadline: number;
    firstWaitMs?: number;
    waitFirst?: boolean;
    onRetry?: (err: unknown, waitMs: number) => void;
  },
): Promise<T> {
  let wait = o.firstWaitMs ?? 500;
  if (o.waitFirst) {
    await Bun.sleep(wait);
    wait = Math.min(Math.max(wait * 2, 500), 10_000);
  }
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof WeirError && err.code === "UNREACHABLE") || Date.now() > o.deadline) throw err;
      o.onRetry?.(err, wait);
      await Bun.sleep(wait);
      wait = Math.min(Math.max(wait * 2, 500), 10_000);
    }
  }
}
