// A flow body that never yields (a CPU-bound loop) blocks the event loop, so the timeout's
// setTimeout in run-flow.ts never fires. A worker thread has an event loop of its own: armed for
// an attempt, it waits for the deadline plus a grace period (the cooperative timeout ends the
// attempt first whenever it can), then records the run FAILED/TimedOut through the API and kills
// this process (SIGKILL: the blocked main thread cannot run a signal handler). Its agent then
// finds the run already ended. The worker is plain JavaScript from a Blob URL, so the compiled
// binary needs no file of its own for it.

const WORKER = `
let timer = null;
self.onmessage = (e) => {
  const m = e.data;
  if (timer) clearTimeout(timer);
  timer = null;
  if (m.kind !== "arm") return;
  timer = setTimeout(async () => {
    const headers = { "content-type": "application/json" };
    if (m.apiKey) headers.authorization = "Bearer " + m.apiKey;
    const body = (x) => ({ method: "POST", headers, body: JSON.stringify(x),
      signal: AbortSignal.timeout(5000) });
    const line = { flow_run_id: m.flowRunId, task_run_id: null, name: "weir.engine", level: 40,
      message: m.message, timestamp: new Date().toISOString() };
    // Under a claim, named as the engine's own reports are: a process whose claim expired (the
    // run was crashed and retried since) ends nothing of the run's next attempt.
    const held = m.agentId ? "?agent_id=" + encodeURIComponent(m.agentId) : "";
    for (const url of m.urls) {
      try {
        await fetch(url + "/logs" + held, body([line]));
        const r = await fetch(url + "/flow-runs/" + m.flowRunId + "/set_state",
          body({ type: "FAILED", name: "TimedOut", message: m.message,
            ...(m.agentId ? { agent_id: m.agentId } : {}) }));
        if (r.ok || r.status === 409) break;
      } catch {}
    }
    console.error(m.message);
    process.kill(process.pid, "SIGKILL");
  }, Math.max(0, m.deadline - Date.now()));
};`;

export class Watchdog {
  #worker: Worker | null = null;

  /** Kills this process at `deadline` (epoch ms) unless disarmed, after recording the run TimedOut. */
  arm(o: { deadline: number; urls: string[]; flowRunId: string; message: string; agentId?: string }): void {
    this.#worker ??= new Worker(URL.createObjectURL(new Blob([WORKER], { type: "application/javascript" })));
    this.#worker.unref?.();
    this.#worker.postMessage({ kind: "arm", apiKey: process.env.WEIR_API_KEY, ...o });
  }

  disarm(): void {
    this.#worker?.postMessage({ kind: "disarm" });
  }

  close(): void {
    this.#worker?.terminate();
    this.#worker = null;
  }
}
