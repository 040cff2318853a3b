import type { WeirClient } from "../../core/client/index.ts";
import {
  type FlowRun,
  isTerminal,
  type LogEntry,
  levelName,
  type StateType,
} from "../../core/model/index.ts";
import { dim, stateColor } from "./output.ts";

const time = (iso: string) => iso.slice(11, 23);

/** One log line of a run, on stdout whatever its level: the log is the output (`> file`, `| grep`). */
export function printLog(l: LogEntry): void {
  console.log(`${dim(time(l.timestamp))} ${levelName(l.level).padEnd(7)} ${l.message}`);
}

/**
 * Prints a run's state changes (and, with `logs`, its log lines) as they happen, until the run
 * reaches a final state or `signal` aborts. Returns the run as last seen.
 */
export async function watchRun(
  client: WeirClient,
  id: string,
  opts: { logs: boolean; signal: AbortSignal; intervalMs?: number },
): Promise<FlowRun> {
  let seenStates = 0;
  let afterLog = 0;
  for (;;) {
    const [run, states] = await Promise.all([client.getFlowRun(id), client.flowRunStates(id)]);
    const finished = isTerminal(run.state.type as StateType);
    // Logs are read after the states: a run's last lines are shipped before its final state.
    const logs: LogEntry[] = [];
    if (opts.logs) {
      for (;;) {
        const page = await client.flowRunLogs(id, afterLog);
        logs.push(...page);
        if (page.length > 0) afterLog = page[page.length - 1]!.id;
        if (page.length < 1000) break;
      }
    }
    const events: { at: string; print: () => void }[] = [
      ...states.slice(seenStates).map((s) => ({
        at: s.timestamp,
        print: () => {
          const msg = s.message ? ` ${dim(`(${s.message})`)}` : "";
          console.log(`${dim(time(s.timestamp))} ${stateColor(s.type)(`→ ${s.name}`)}${msg}`);
        },
      })),
      ...logs.map((l) => ({ at: l.timestamp, print: () => printLog(l) })),
    ];
    events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    for (const e of events) e.print();
    seenStates = states.length;
    if (finished || opts.signal.aborted) return run;
    await Bun.sleep(opts.intervalMs ?? 150);
  }
}
