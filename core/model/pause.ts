/**
 * Waits `ms`; resolves false at once if `signal` aborts first (or has already), true otherwise.
 * The abort listener is removed either way, so a long-lived signal waited on in a loop (an
 * agent's heartbeats) gathers no listeners.
 */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((done) => {
    const onAbort = () => {
      clearTimeout(timer);
      done(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      done(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
