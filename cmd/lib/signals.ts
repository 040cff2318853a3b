/**
 * Resolves after the first SIGINT/SIGTERM's graceful `onSignal(false)` completes. A second signal
 * calls `onSignal(true)` (the impatient path: kill what is running) while the first is still going.
 */
export function untilSignal(onSignal: (second: boolean) => Promise<void> | void): Promise<void> {
  return new Promise((resolve, reject) => {
    let count = 0;
    const handler = () => {
      count++;
      if (count === 1) Promise.resolve(onSignal(false)).then(resolve, reject);
      else void onSignal(true);
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  });
}
