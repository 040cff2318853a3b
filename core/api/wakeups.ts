/** How long a wake-up is remembered for a wait that looks back (far longer than any look takes). */
const RECENT_MS = 60_000;

/**
 * In-process wake-ups for long-polling claims: creating or rescheduling a run in a pool wakes the
 * agents waiting on that pool at once, so dispatch never waits on a fixed sleep. On PostgreSQL the
 * other servers are told too (LISTEN/NOTIFY); waiters also wake on a timeout, which covers runs
 * written by a process that tells no one (the scheduler service, another server on a file).
 */
export class Wakeups {
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Wake-ups of the last minute by key, oldest first: a wait that looks back (see mark). */
  readonly #recent = new Map<string, { seq: number; at: number }>();
  #seq = 0;
  /** Tells the other servers on the database (set when there are any: PostgreSQL). */
  broadcast: ((key: string) => void) | null = null;

  notify(key: string): void {
    this.broadcast?.(key);
    this.receive(key);
  }

  /** A wake-up from another server: wakes the waiters here, and tells no one else. */
  receive(key: string): void {
    const now = Date.now();
    this.#recent.delete(key);
    this.#recent.set(key, { seq: ++this.#seq, at: now });
    for (const [k, seen] of this.#recent) {
      if (now - seen.at < RECENT_MS) break;
      this.#recent.delete(k);
    }
    const set = this.#waiters.get(key);
    if (!set) return;
    this.#waiters.delete(key);
    for (const wake of set) wake();
  }

  /**
   * Taken before a look at the database that may end in wait(): a wake-up that comes while the
   * look is under way (its queries yield) would otherwise find no waiter and be lost, leaving the
   * wait to its timeout. Passed to wait(), it makes such a wait return at once.
   */
  mark(): number {
    return this.#seq;
  }

  /**
   * Resolves on notify(key), after `ms`, or when `signal` aborts, whichever comes first; at once
   * when `since` (from mark()) is given and the key was notified after it.
   */
  wait(key: string, ms: number, signal?: AbortSignal, since?: number): Promise<void> {
    if (since !== undefined && (this.#recent.get(key)?.seq ?? 0) > since) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.#waiters.get(key) ?? new Set<() => void>();
      this.#waiters.set(key, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        // The last waiter of a key takes its entry with it (a run's key is waited on once).
        if (set.size === 0 && this.#waiters.get(key) === set) this.#waiters.delete(key);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }
}
