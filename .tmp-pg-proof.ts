import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sql";
import { MIGRATIONS } from "./core/store/postgres/migrations/index.ts";
import * as schema from "./core/store/postgres/schema.ts";
import { postgresMissing, startPostgres } from "./tests/e2e/postgres.ts";

const { flows, deployments, flowRuns, logs } = schema;

console.log("missing:", postgresMissing());
const t = Date.now();
const pg = await startPostgres();
console.log("started in", Date.now() - t, "ms", pg.url);
const url2 = await pg.createDatabase("second");
console.log("createDatabase:", url2);
const client = new Bun.SQL(url2);
const db = drizzle(client, { schema });
for (const m of MIGRATIONS)
  for (const s of m.sql.split("--> statement-breakpoint")) if (s.trim()) await db.execute(sql.raw(s));
console.log("migrated");
const now = new Date().toISOString();
await db.insert(flows).values({ id: "f1", created: now, updated: now, name: "etl", tags: ["a", "b"] });
await db.insert(deployments).values({
  id: "d1",
  created: now,
  updated: now,
  name: "nightly",
  flowId: "f1",
  schedule: { cron: "0 * * * *" },
  isScheduleActive: true,
  parameters: { x: 1, nested: { y: [1, 2] } },
  tags: [],
  jobVariables: {},
  enforceParameterSchema: false,
  paused: false,
});
await db.insert(flowRuns).values({
  id: "r1",
  created: now,
  updated: now,
  name: "run-1",
  flowId: "f1",
  deploymentId: "d1",
  workPoolName: "p",
  parameters: { s: "str" },
  jobVariables: {},
  tags: ["t"],
  stateType: "SCHEDULED",
  stateName: "Scheduled",
  stateTimestamp: now,
  nextScheduledStartTime: now,
  totalRunTime: 3_000_000_000,
  runCount: 0,
  idempotencyKey: "k1",
});
const [f] = await db.select().from(flows);
const [d] = await db.select().from(deployments);
const [r] = await db.select().from(flowRuns);
console.log("flow:", f);
console.log(
  "deployment jsonb:",
  typeof d!.parameters,
  d!.parameters,
  "schedule:",
  d!.schedule,
  "booleans:",
  d!.isScheduleActive,
  typeof d!.paused,
  d!.paused,
);
console.log(
  "run totalRunTime:",
  typeof r!.totalRunTime,
  r!.totalRunTime,
  "autoScheduled default:",
  r!.autoScheduled,
  "tags:",
  r!.tags,
);
console.log("relational query:", await db.query.flows.findFirst({ where: eq(flows.id, "f1") }));
const dup = await db
  .insert(flowRuns)
  .values({ ...r!, id: "r2" })
  .onConflictDoNothing({ target: flowRuns.idempotencyKey })
  .returning({ id: flowRuns.id });
const ins = await db
  .insert(flowRuns)
  .values({ ...r!, id: "r3", idempotencyKey: "k3" })
  .onConflictDoNothing({ target: flowRuns.idempotencyKey })
  .returning({ id: flowRuns.id });
console.log("onConflictDoNothing returning: dup ->", dup, "new ->", ins);
const nd = await db
  .insert(flows)
  .values({ id: "f2", created: now, updated: now, name: "etl", tags: [] })
  .onConflictDoNothing({ target: flows.name })
  .returning();
console.log("flows.name conflict ->", nd);
const up = await db
  .insert(flows)
  .values({ id: "f9", created: now, updated: now, name: "etl", tags: ["new"] })
  .onConflictDoUpdate({ target: flows.name, set: { tags: ["upd"] } })
  .returning();
console.log("onConflictDoUpdate ->", up);
await db.insert(logs).values([
  { flowRunId: "r1", name: "l", level: 20, message: "m", timestamp: now },
  { flowRunId: "r1", name: "l", level: 20, message: "m2", timestamp: now },
]);
console.log(
  "logs ids:",
  (await db.select({ id: logs.id }).from(logs)).map((x) => [typeof x.id, x.id]),
);

// SKIP LOCKED: tx A locks r1, tx B skips it.
await db.transaction(async (a) => {
  const la = await a
    .select({ id: flowRuns.id })
    .from(flowRuns)
    .where(eq(flowRuns.id, "r1"))
    .for("update", { skipLocked: true });
  const lb = await db.transaction(async (b) =>
    b.select({ id: flowRuns.id }).from(flowRuns).orderBy(flowRuns.id).for("update", { skipLocked: true }),
  );
  console.log("FOR UPDATE SKIP LOCKED: A got", la, "B (concurrently) got", lb);
});

// execute shapes
const ex = await db.execute(
  sql`select id, tags, parameters, is_schedule_active, 1::int as one, 2::bigint as big, count(*) over () as n from deployments`,
);
console.log(
  "db.execute result: Array.isArray =",
  Array.isArray(ex),
  "keys:",
  Object.keys(ex),
  "count:",
  (ex as any).count,
  "command:",
  (ex as any).command,
  "rows[0]:",
  ex[0],
  "typeof tags:",
  typeof (ex[0] as any)?.tags,
  "typeof big:",
  typeof (ex[0] as any)?.big,
);
const ex2 = await db.execute(sql`update flows set updated = ${now} where id = 'f1'`);
console.log("db.execute update:", ex2, "count:", (ex2 as any).count, "command:", (ex2 as any).command);
const raw = await client`select tags, parameters from deployments`;
console.log("raw Bun.SQL jsonb:", typeof raw[0].tags, raw[0]);

// listen / notify
const got: string[] = [];
const unlisten = await client.listen?.("weir_test", (p: string) => got.push(p));
console.log("client.listen type:", typeof client.listen, "notify type:", typeof (client as any).notify);
