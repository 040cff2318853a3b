import { pct, type Row, Weir } from "../lib.ts";

const FIRST_LINE = {
  "flows/first.ts": `import { flow, log } from "weir";\nexport const first = flow({ name: "first" }, async () => { log.info(String(Date.now())); });\n`,
  "weir.yaml":
    "deployments:\n  - name: d\n    entrypoint: flows/first.ts:first\n    work_pool: { name: bench }\n",
};

/**
 * Deploys a flow whose first line logs the time, through `deployTo` (with an agent of its pool
 * polling `deployTo`'s server), then creates `n` runs one at a time through `createOn` and returns
 * each run's latency from the creation call returning to that first line.
 */
export async function dispatchLatencies(
  n: number,
  deployTo: Weir,
  createOn: Weir = deployTo,
): Promise<number[]> {
  await deployTo.agent("bench");
  const ids = await deployTo.deploy(FIRST_LINE);
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const run = await createOn.post(`/deployments/${ids.d}/runs`);
    const returned = Date.now();
    await createOn.waitFinal(run.id);
    const logs = (await createOn.get(`/flow-runs/${run.id}/logs`)) as { message: string }[];
    lat.push(Number(logs[0]?.message) - returned);
  }
  return lat;
}

/** From the run-creation call returning to the flow's first line of user code, one run at a time. */
export async function dispatch(): Promise<Row[]> {
  const n = Number(process.env.BENCH_RUNS ?? 100);
  const weir = await new Weir("dispatch").start();
  try {
    const lat = await dispatchLatencies(n, weir);
    return [
      { metric: `dispatch p50 (${n} runs)`, value: pct(lat, 50), unit: "ms", target: { below: 100 } },
      { metric: "dispatch p95", value: pct(lat, 95), unit: "ms" },
      { metric: "dispatch p99", value: pct(lat, 99), unit: "ms" },
    ];
  } finally {
    await weir.stop();
  }
}
