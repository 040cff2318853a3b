import { pct, type Row, Weir } from "../lib.ts";

export const THREE_STEPS = `import { flow, task } from "weir";
const step = task({ name: "step" }, async (i: number) => i + 1);
export const three = flow({ name: "three" }, async () => {
  let x = 0;
  for (let i = 0; i < 3; i++) x = await step(x);
  return { x };
});
`;

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
    const t0 = performance.now();
    const created = await Promise.all(
      Array.from({ length: 200 }, () => weir.post(`/deployments/${ids.three}/runs`)),
    );
    const done = [];
    for (const r of created) done.push((await weir.waitFinal(r.id, 20)).run);
    const elapsed = (performance.now() - t0) / 1000;
    const burst = done.map((r) => Date.parse(r.end_time) - Date.parse(r.created));

    const serial: number[] = [];
    for (let i = 0; i < 100; i++) {
      const s0 = performance.now();
      const run = await weir.post(`/deployments/${ids.three}/runs`);
      serial.push((await weir.waitFinal(run.id, 1)).seenAt - s0);
    }
    return [
      { metric: "200 at once: runs/s", value: 200 / elapsed, unit: "/s", target: { atLeast: 50 } },
      { metric: "200 at once: median run latency", value: pct(burst, 50), unit: "ms" },
      { metric: "200 at once: p95 run latency", value: pct(burst, 95), unit: "ms" },
      { metric: "one after another: median latency", value: pct(serial, 50), unit: "ms" },
      { metric: "one after another: p95 latency", value: pct(serial, 95), unit: "ms" },
    ];
  } finally {
    await weir.stop();
  }
}
