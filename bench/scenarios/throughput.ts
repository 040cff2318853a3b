import { pct, type Row, Weir } from "../lib.ts";

export const THREE_STEPS = `import { flow, task } from "weir";
const step = task({ name: "step" }, async (i: number) => i + 1);
export const three = flow({ name: "three" }, async () => {
  let x = 0;
  for (let i = 0; i < 3; i++) x = await step(x);
  return { x };
});
`;

export interface ThroughputFigures {
  runsPerSecond: number;
  /** Per run, created → ended (server timestamps), for the 200 submitted at once. */
  burst: number[];
  /** The same burst again right after the first: the processes warm (their JIT, caches, pools). */
  warm: { runsPerSecond: number; burst: number[] };
  /** Per run, request → seen Completed, one after another. */
  serial: number[];
}

/** 200 runs submitted at once, each followed to its end by long poll. */
async function burstOf200(
  weir: Weir,
  deploymentId: string,
): Promise<{ runsPerSecond: number; burst: number[] }> {
  const t0 = performance.now();
  const created = await Promise.all(
    Array.from({ length: 200 }, () => weir.post(`/deployments/${deploymentId}/runs`)),
  );
  const done = [];
  for (const r of created) done.push((await weir.waitFinal(r.id)).run);
  const runsPerSecond = 200 / ((performance.now() - t0) / 1000);
  return { runsPerSecond, burst: done.map((r) => Date.parse(r.end_time) - Date.parse(r.created)) };
}

/** A burst of 200 runs at once, the same burst again (warm), then 100 runs in sequence. */
export async function measureThroughput(weir: Weir, deploymentId: string): Promise<ThroughputFigures> {
  const { runsPerSecond, burst } = await burstOf200(weir, deploymentId);
  const warm = await burstOf200(weir, deploymentId);
  const serial: number[] = [];
  for (let i = 0; i < 100; i++) {
    const s0 = performance.now();
    const run = await weir.post(`/deployments/${deploymentId}/runs`);
    serial.push((await weir.waitFinal(run.id)).seenAt - s0);
  }
  return { runsPerSecond, burst, warm, serial };
}

/** A 3-task flow: 200 runs submitted at once to one agent (a process per run), then 100 one after another. */
export async function throughput(): Promise<Row[]> {
  const weir = await new Weir("throughput").start();
  try {
    await weir.agent("tp", 10);
    const ids = await weir.deploy({
      "flows/three.ts": THREE_STEPS,
      "weir.yaml":
        "deployments:\n  - name: three\n    entrypoint: flows/three.ts:three\n    work_pool: { name: tp }\n",
    });
    const f = await measureThroughput(weir, ids.three!);
    return [
      { metric: "200 at once: runs/s", value: f.runsPerSecond, unit: "/s", target: { atLeast: 50 } },
      { metric: "200 at once: median run latency", value: pct(f.burst, 50), unit: "ms" },
      { metric: "200 at once: p95 run latency", value: pct(f.burst, 95), unit: "ms" },
      { metric: "200 at once again (warm): runs/s", value: f.warm.runsPerSecond, unit: "/s" },
      { metric: "one after another: median latency", value: pct(f.serial, 50), unit: "ms" },
      { metric: "one after another: p95 latency", value: pct(f.serial, 95), unit: "ms" },
    ];
  } finally {
    await weir.stop();
  }
}
