import { Database } from "bun:sqlite";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../core/store/index.ts";
import { pct, type Row, Weir } from "../lib.ts";

const RUNS = Number(process.env.BENCH_UI_RUNS ?? 100_000);
const STATES = ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED", "SCHEDULED", "CANCELLED"] as const;

/**
 * The web UI's pages with 100,000 runs in the database: each page fetched 30 times from the
 * compiled server (loopback), its median and 95th percentile time. Target: every page < 50 ms.
 */
export async function ui(): Promise<Row[]> {
  const weir = new Weir("ui");
  rmSync(weir.home, { recursive: true, force: true });
  mkdirSync(weir.home, { recursive: true });
  // Seeded through the store (the API would take a minute to make this many), then served.
  const store = await openStore({ url: join(weir.home, "weir.db") });
  await store.migrate();
  const deployments = [];
  for (let i = 0; i < 20; i++) {
    const { deployment } = await store.upsertDeployment({
      flow_name: `flow-${i % 5}`,
      name: `deployment-${i}`,
      entrypoint: "flows/x.ts:x",
      tags: [`team-${i % 4}`],
      work_pool_name: "local",
      parameters: { n: i },
      parameter_openapi_schema: {
        type: "object",
        properties: { n: { type: "integer" }, who: { type: "string", default: "x" } },
      },
    });
    deployments.push(deployment);
  }
  for (let done = 0; done < RUNS; ) {
    const batch = [];
    for (let j = 0; j < 1000 && done < RUNS; j++, done++) {
      const d = deployments[done % deployments.length]!;
      batch.push({
        flow_id: d.flow_id,
        deployment_id: d.id,
        work_pool_name: "local",
        parameters: { n: done },
        tags: [`team-${done % 4}`, ...(done % 1000 === 0 ? ["rare"] : [])],
      });
    }
    await store.createFlowRuns(batch);
  }
  const someRun = (await store.listFlowRuns({ limit: 1 }))[0]!;
  await store.close();
  // A mix of final states, as a busy installation has (new runs can only start SCHEDULED).
  const db = new Database(join(weir.home, "weir.db"));
  STATES.forEach((type, i) => {
    const name = type.charAt(0) + type.slice(1).toLowerCase();
    db.run(`UPDATE flow_runs SET state_type = ?, state_name = ? WHERE rowid % ${STATES.length} = ${i}`, [
      type,
      name,
    ]);
  });
  db.close();
  await weir.start();
  const base = weir.api.replace(/\/api$/, "");
  try {
    const d = deployments[3]!;
    const pages: [string, string][] = [
      ["runs", "/"],
      ["runs, 2nd page", "/?offset=50"],
      ["runs by state", "/?state=FAILED"],
      ["runs by deployment", `/?deployment=${d.id}`],
      ["runs by rare tag", "/?tag=rare"],
      ["runs by time range", `/?from=${new Date(Date.now() - 3600_000).toISOString().slice(0, 16)}`],
      ["a run", `/runs/${someRun.id}`],
      ["deployments", "/deployments"],
      ["a deployment", `/deployments/${d.id}`],
      ["custom run form", `/deployments/${d.id}/run`],
      ["work pools", "/work-pools"],
      ["blocks", "/blocks"],
      ["variables", "/variables"],
    ];
    const rows: Row[] = [];
    for (const [name, path] of pages) {
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t0 = performance.now();
        const r = await fetch(base + path);
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
        if (i > 0) times.push(performance.now() - t0);
      }
      rows.push({ metric: `${name}: median`, value: pct(times, 50), unit: "ms", target: { below: 50 } });
      rows.push({ metric: `${name}: p95`, value: pct(times, 95), unit: "ms" });
    }
    return rows;
  } finally {
    await weir.stop();
  }
}
