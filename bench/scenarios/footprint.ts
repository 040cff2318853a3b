import { statSync } from "node:fs";
import { type Row, rssMb, WEIR, Weir } from "../lib.ts";

/** Server memory after start and after 1,000 completed flow runs, and the binary's size. */
export async function footprint(): Promise<Row[]> {
  const weir = await new Weir("footprint").start();
  try {
    await Bun.sleep(300);
    const atStart = rssMb(weir.server!.pid);
    await weir.agent("fp", 10);
    const ids = await weir.deploy({
      "flows/noop.ts": `import { flow, log } from "weir";\nexport const noop = flow({ name: "noop" }, async () => { log.info("done"); });\n`,
      "weir.yaml":
        "deployments:\n  - name: noop\n    entrypoint: flows/noop.ts:noop\n    work_pool: { name: fp }\n",
    });
    const runs: string[] = [];
    for (let i = 0; i < 1000; i += 50) {
      runs.push(
        ...(
          await Promise.all(Array.from({ length: 50 }, () => weir.post(`/deployments/${ids.noop}/runs`)))
        ).map((r) => r.id),
      );
    }
    for (const id of runs) await weir.waitFinal(id);
    await Bun.sleep(300);
    return [
      { metric: "server RSS after start", value: atStart, unit: "MB", target: { below: 80 } },
      {
        metric: "server RSS after 1,000 runs",
        value: rssMb(weir.server!.pid),
        unit: "MB",
        target: { below: 120 },
      },
      { metric: "binary size", value: statSync(WEIR).size / 1024 / 1024, unit: "MB" },
    ];
  } finally {
    await weir.stop();
  }
}
