// The thread that checkpoints an embedded database's write-ahead log for a long-lived process
// (see `backgroundCheckpointMs` in openStore). SQLite's own automatic checkpoint runs inside
// whichever commit crosses its threshold, and its copying and fsync stall the server's one thread
// for 10-30 ms; here they run beside it, on a connection of this thread's own. A PASSIVE
// checkpoint takes no lock a writer waits for: it copies what no reader still needs.
import { Database } from "bun:sqlite";

declare const self: Worker;

let db: Database | null = null;
let timer: ReturnType<typeof setInterval> | undefined;

self.onmessage = (e: MessageEvent<{ path: string; everyMs: number } | "close">) => {
  if (e.data === "close") {
    clearInterval(timer);
    db?.close();
    db = null;
    return;
  }
  const { path, everyMs } = e.data;
  db = new Database(path);
  db.run("PRAGMA busy_timeout = 1000");
  db.run("PRAGMA synchronous = NORMAL");
  timer = setInterval(() => {
    try {
      db?.run("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // The next turn tries again; the process's own commits still checkpoint past their limit.
    }
  }, everyMs);
};
