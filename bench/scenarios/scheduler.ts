import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_SETTINGS, schedulePass } from "../../core/scheduler/index.ts";
import { openStore } from "../../core/store/index.ts";
import { type Row, WORK } from "../lib.ts";

/** The scheduler pass over 10,000 cron deployments, in-process against a real database file. */
export async function scheduler(): Promise<Row[]> {
  const n = Number(process.env.BENCH_DEPLOYMENTS ?? 10_000);
  const file = join(WORK, "scheduler.db");
  const store = await openStore({ url: file });
  await store.createWorkPool({ name: "bench", type: "process", base_job_template: {} });
  // A realistic mix: thousands of distinct specs (minute and hour vary), two timezones.
  const cronFor = (k: number) => {
    const m = Math.floor(k / 5) % 60;
    const h = Math.floor(k / 300) % 24;
    return [`${m} * * * *`, `${m} ${h} * * *`, "*/15 * * * *", `${m} ${h} * * 1-5`, `${m} ${h} 1 * *`][
      k % 5
    ]!;
  };
  // Through the store's own operations, so the figures hold for either database.
  for (let k = 0; k < n; k++) {
    await store.upsertDeployment({
      flow_name: "bench-flow",
      name: `d${k}`,
      work_pool_name: "bench",
      work_queue_name: "default",
      schedules: [
        {
          schedule: { cron: cronFor(k), timezone: k % 2 ? "UTC" : "Europe/Berlin", day_or: true },
          active: true,
        },
      ],
    });
  }
  const distinct = new Set(Array.from({ length: n }, (_, k) => `${cronFor(k)}|${k % 2}`)).size;
  const first = await schedulePass(store, DEFAULT_SETTINGS);
  const idle = await schedulePass(store, DEFAULT_SETTINGS);
  await store.close();
  const size = ["", "-wal"].reduce(
    (sum, ext) => sum + (existsSync(file + ext) ? statSync(file + ext).size : 0),
    0,
  );
  return [
    { metric: `first pass (${n} cron deployments)`, value: first.ms, unit: "ms", target: { below: 5000 } },
    { metric: "distinct schedule specs", value: distinct, unit: "" },
    { metric: "runs created by the first pass", value: first.created, unit: "" },
    { metric: "idle pass", value: idle.ms, unit: "ms", target: { below: 200 } },
    { metric: "database size", value: size / 1024 / 1024, unit: "MB" },
  ];
}
