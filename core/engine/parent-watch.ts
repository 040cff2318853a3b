/**
 * Calls `onGone` once when the process `parentPid` (the agent that started this flow run) has
 * exited, checking every `everyMs`. A flow process must not outlive its agent: nobody would watch
 * it, cancel it or record how it ended. While the agent is this process's parent, its death shows
 * as a new parent (init or a subreaper); otherwise the pid is probed. Returns a function that
 * stops watching.
 */
export function watchParent(parentPid: number, onGone: () => void, everyMs = 500): () => void {
  const direct = process.ppid === parentPid;
  const alive = () => {
    if (direct) return process.ppid === parentPid;
    try {
      process.kill(parentPid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  };
  const timer = setInterval(() => {
    if (alive()) return;
    clearInterval(timer);
    onGone();
  }, everyMs);
  timer.unref?.();
  return () => clearInterval(timer);
}
