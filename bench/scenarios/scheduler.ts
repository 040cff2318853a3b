import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_SETTINGS, schedulePass } from "../../core/scheduler/index.ts";
import { newId, openStore } from "../../core/store/index.ts";
import { deploymentSchedules, deployments, flows, workPools } from "../../core/store/schema.ts";
import { type Row, WORK } from "../lib.ts";

/** The scheduler pass over 10,000 cron deployments, in-process against a real database file. */
export async function scheduler(): Promise<Row[]> {
  const n = Number(process.env.BENCH_DEPLOYMENTS ?? 10_000);
  const file = join(WORK, "scheduler.db");
  const store = await openStore({ url: file });
  const now = new Date().toISOString();
  await store.db.insert(workPools).values({
    id: newId(),
    created: now,
    updated: now,
    name: "bench",
    type: "process",
    isPaused: false,
    baseJobTemplate: {},
  });
  const flowId = newId();
  await store.db
    .insert(flows)
    .values({ id: flowId, created: now, updated: now, name: "bench-flow", tags: [] });
  // A realistic mix: thousands of distinct specs (minute and hour vary), two timezones.
  const cronFor = (k: number) => {
    const m = Math.floor(k / 5) % 60;
    const h = Math.floor(k / 300) % 24;
    return [`${m} * * * *`, `${m} ${h} * * *`, "*/15 * * * *", `${m} ${h} * * 1-5`, `${m} ${h} 1 * *`][
      k % 5
    ]!;
  };
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, (_, j) => ({ id: newId(), k: i + j }));
    await store.db.insert(deployments).values(
      batch.map(({ id, k }) => ({
        id,
        created: now,
        updated: now,
        name: `d${k}`,
        flowId,
        isScheduleActive: true,
        parameters: {},
        tags: [],
        workPoolName: "bench",
        workQueueName: "default",
        jobVariables: {},
        enforceParameterSchema: true,
        paused: false,
      })),
    );
    await store.db.insert(deploymentSchedules).values(
      batch.map(({ id, k }) => ({
        id: newId(),
        created: now,
        updated: now,
        deploymentId: id,
        schedule: { cron: cronFor(k), timezone: k % 2 ? "UTC" : "Europe/Berlin", day_or: true },
        active: true,
        parameters: {},
        slug: null,
      })),
    );
  }
  const distinct = new Set(Array.from({ length: n }, (_, k) => `${cronFor(k)}|${k % 2}`)).size;
  const first = await schedulePass(store.db, DEFAULT_SETTINGS);
  const idle = await schedulePass(store.db, DEFAULT_SETTINGS);
  store.close();
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
