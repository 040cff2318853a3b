import type { WeirClient } from "../../core/client/index.ts";
import {
  type FlowRun,
  isTerminal,
  type LogEntry,
  levelName,
  type StateType,
  WeirError,
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
  let lostSince: number | null = null;
  for (;;) {
    let got: [FlowRun, Awaited<ReturnType<WeirClient["flowRunStates"]>>, LogEntry[]];
    try {
      const [run, states] = await Promise.all([client.getFlowRun(id), client.flowRunStates(id)]);
      // Logs are read after the states: a run's last lines are shipped before its final state.
      const logs: LogEntry[] = [];
      let after = afterLog;
      while (opts.logs) {
        const page = await client.flowRunLogs(id, after);
        logs.push(...page);
        if (page.length > 0) after = page[page.length - 1]!.id;
        if (page.length < 1000) break;
      }
      afterLog = after;
      got = [run, states, logs];
    } catch (err) {
      // A server restarting, or a network cut: watching goes on once it answers again (as agents
      // do), saying so once; Ctrl-C stops it as ever. The run itself goes on meanwhile.
      if (!(err instanceof WeirError && err.code === "UNREACHABLE") || opts.signal.aborted) throw err;
      if (lostSince === null) {
        lostSince = Date.now();
        console.error(
          dim(
            `Lost the server (${err.message.split(":")[0]}); watching again once it answers (Ctrl-C stops)`,
          ),
        );
      }
      await Bun.sleep(1_000);
      continue;
    }
    if (lostSince !== null) {
      console.error(
        dim(`The server answers again (after ${((Date.now() - lostSince) / 1000).toFixed(0)} s)`),
      );
      lostSince = null;
    }
    const [run, states, logs] = got;
    const finished = isTerminal(run.state.type as StateType);
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
