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

export function printLog(l: LogEntry): void {
  const line = `${dim(time(l.timestamp))} ${levelName(l.level).padEnd(7)} ${l.message}`;
  if (l.level >= 30) console.error(line);
  else console.log(line);
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
    if (opts.logs) {
      for (
        let page = await client.flowRunLogs(id, afterLog);
        page.length > 0;
        page = await client.flowRunLogs(id, afterLog)
      ) {
        for (const l of page) printLog(l);
        afterLog = page[page.length - 1]!.id;
        if (page.length < 1000) break;
      }
    }
    for (const s of states.slice(seenStates)) {
      const msg = s.message ? ` ${dim(`(${s.message})`)}` : "";
      console.log(`${dim(time(s.timestamp))} ${stateColor(s.type)(`→ ${s.name}`)}${msg}`);
    }
    seenStates = states.length;
    if (isTerminal(run.state.type as StateType) || opts.signal.aborted) {
      if (opts.logs && isTerminal(run.state.type)) {
        for (const l of await client.flowRunLogs(id, afterLog)) printLog(l);
      }
      return run;
    }
    await Bun.sleep(opts.intervalMs ?? 150);
  }
}
