import type { Logger } from "../sdk/logger.ts";

/**
 * Where a step's progress goes (image layers being pushed, files being sent). A key is one
 * thing in progress (a layer); its status is what it is doing ("Pushing"), its detail how far
 * ("[==>  ] 12MB/40MB").
 */
export interface ProgressSink {
  update(key: string, status: string, detail?: string): void;
  /** The step is over: a terminal display stops redrawing and leaves its last lines. */
  done(): void;
  /**
   * A line is about to be written below: a terminal display erases its block, so the next
   * redraw starts under that line instead of writing over it.
   */
  interrupt?(): void;
}

/** Plain lines, for logs and pipes: one when a key's status changes, never one per byte. */
export function lineProgress(log: Logger): ProgressSink {
  const last = new Map<string, string>();
  return {
    update(key, status) {
      if (last.get(key) === status) return;
      last.set(key, status);
      log.info(key ? `${key}: ${status}` : status);
    },
    done() {
      last.clear();
    },
  };
}

/**
 * A block of lines redrawn in place on a terminal, one per key (at most `rows`, the newest),
 * with the detail beside the status; lines are cut to the terminal's width.
 */
export function terminalProgress(out: NodeJS.WriteStream, rows = 12): ProgressSink {
  const lines = new Map<string, string>();
  let drawn = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const draw = () => {
    timer = null;
    // A terminal that does not say its size (0 columns) gets a usual width, not 20 characters.
    const width = Math.max(20, (out.columns || 100) - 1);
    const shown = [...lines.values()].slice(-rows).map((l) => l.slice(0, width));
    let text = drawn > 0 ? `\x1b[${drawn}F` : "";
    for (const l of shown) text += `\x1b[2K${l}\n`;
    for (let i = shown.length; i < drawn; i++) text += "\x1b[2K\n";
    out.write(text);
    drawn = Math.max(drawn, shown.length);
  };
  return {
    update(key, status, detail) {
      lines.set(key, `${key ? `${key}: ` : ""}${status}${detail ? ` ${detail}` : ""}`);
      // At most 10 redraws a second, however fast the events come.
      timer ??= setTimeout(draw, 100);
    },
    done() {
      if (timer) clearTimeout(timer);
      if (lines.size > 0) draw();
      lines.clear();
      drawn = 0;
    },
    interrupt() {
      if (drawn === 0) return;
      out.write(`\x1b[${drawn}F\x1b[J`);
      drawn = 0;
      if (lines.size > 0) timer ??= setTimeout(draw, 100);
    },
  };
}
