// A server's embedded database checkpoints its write-ahead log on a thread of its own (openStore's
// backgroundCheckpointMs), not inside the commits of its requests: the log stays short while the
// process writes, though its own commits would only checkpoint past 10,000 pages (40 MB).
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../core/store/index.ts";

test("the write-ahead log is checkpointed in the background and stays short", async () => {
  const dir = mkdtempSync(join(tmpdir(), "weir-checkpoints-"));
  const path = join(dir, "weir.db");
  const store = await openStore({ url: path, backgroundCheckpointMs: 50 });
  try {
    const flow = await store.upsertFlow("f");
    const big = "x".repeat(8_000);
    let largest = 0;
    // About 20 MB of runs in batches, with pauses longer than the checkpoint interval between.
    for (let b = 0; b < 20; b++) {
      await store.createFlowRuns(
        Array.from({ length: 100 }, () => ({ flow_id: flow.id, parameters: { big } })),
      );
      largest = Math.max(largest, statSync(`${path}-wal`).size);
      await Bun.sleep(150);
    }
    expect(largest).toBeGreaterThan(500_000); // each batch went through the log
    expect(statSync(`${path}-wal`).size).toBeLessThan(5_000_000);
    expect((await store.listFlowRuns({ limit: 5000 })).length).toBe(2000);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
