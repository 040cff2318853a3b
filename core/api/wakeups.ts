/**
 * In-process wake-ups for long-polling claims: creating or rescheduling a run in a pool wakes the
 * agents waiting on that pool at once, so dispatch never waits on a fixed sleep. On PostgreSQL the
 * other servers are told too (LISTEN/NOTIFY); waiters also wake on a timeout, which covers runs
 * written by a process that tells no one (the scheduler service, another server on a file).
 */
export class Wakeups {
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Tells the other servers on the database (set when there are any: PostgreSQL). */
  broadcast: ((key: string) => void) | null = null;

  notify(key: string): void {
    this.broadcast?.(key);
    this.receive(key);
  }

  /** A wake-up from another server: wakes the waiters here, and tells no one else. */
  receive(key: string): void {
    const set = this.#waiters.get(key);
    if (!set) return;
    this.#waiters.delete(key);
    for (const wake of set) wake();
  }

  /** Resolves on notify(key), after `ms`, or when `signal` aborts, whichever comes first. */
  wait(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.#waiters.get(key) ?? new Set<() => void>();
      this.#waiters.set(key, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }
}
