import { type SQL, sql } from "drizzle-orm";
import { bigint, boolean, customType, index, integer, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";

// PostgreSQL mirror of ../schema.ts (SQLite): same tables, column names, property names,
// nullability, defaults, keys, foreign keys, unique constraints and indexes, so the same drizzle
// query-builder code runs against either backend. It MUST change together with ../schema.ts
// (then regenerate with `npx drizzle-kit generate --config drizzle.postgres.config.ts`).
//
// Differences forced by the dialect:
// - JSON columns are jsonb (SQLite: text in json mode); booleans are boolean (SQLite: 0/1).
//   Not drizzle's own jsonb(): with drizzle-orm/bun-sql (0.45) it stringifies the value and Bun.SQL
//   stringifies that string again for a jsonb parameter, storing a JSON *string* ("{\"a\":1}") that
//   only drizzle can read back and no jsonb operator sees into (drizzle-orm#4942, oven-sh/bun#28819).
//   So the value is sent as JSON text cast in SQL ($1::text::jsonb), which no driver re-encodes; Bun
//   parses jsonb results itself, so reads need no decoding.
// - Timestamps stay ISO 8601 UTC text, as in SQLite, so they sort as text.
// - flow_runs.total_run_time (milliseconds) and logs.id are bigint in "number" mode: they may pass
//   2^31 (24.8 days of run time; a long-lived log table), which SQLite's 64-bit integer holds.
// - logs.id is an identity column (by default, so explicit ids still work like SQLite's rowid).

const jsonb = customType<{ data: unknown; driverData: unknown }>({
  dataType: () => "jsonb",
  toDriver: (value): SQL => sql`${JSON.stringify(value)}::text::jsonb`,
  // Bun.SQL already returns jsonb parsed (objects, arrays, strings, numbers, booleans).
  fromDriver: (value) => value,
});
const json = <T>(name: string) => jsonb(name).$type<T>();
const created = () => text("created").notNull();
const updated = () => text("updated").notNull();

export const flows = pgTable("flows", {
  id: text("id").primaryKey(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  tags: json<string[]>("tags").notNull(),
});

export const deployments = pgTable(
  "deployments",
  {
    id: text("id").primaryKey(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    version: text("version"),
    description: text("description"),
    flowId: text("flow_id")
      .notNull()
      .references(() => flows.id, { onDelete: "cascade" }),
    schedule: json<Record<string, unknown> | null>("schedule"),
    isScheduleActive: boolean("is_schedule_active").notNull(),
    parameters: json<Record<string, unknown>>("parameters").notNull(),
    tags: json<string[]>("tags").notNull(),
    workPoolName: text("work_pool_name"),
    workQueueName: text("work_queue_name"),
    parameterOpenapiSchema: json<Record<string, unknown> | null>("parameter_openapi_schema"),
    path: text("path"),
    entrypoint: text("entrypoint"),
    storageDocumentId: text("storage_document_id"),
    infrastructureDocumentId: text("infrastructure_document_id"),
    jobVariables: json<Record<string, unknown>>("job_variables").notNull(),
    pullSteps: json<unknown[] | null>("pull_steps"),
    enforceParameterSchema: boolean("enforce_parameter_schema").notNull(),
    paused: boolean("paused").notNull(),
    /** What the scheduler does with runs missed during an outage: all | latest | none. */
    catchup: text("catchup").notNull().default("all"),
    /** Event triggers from weir.yaml, stored as given (automations come later). */
    triggers: json<unknown[] | null>("triggers"),
    /** {limit, collision_strategy} from weir.yaml; stored now, enforced with work pools later. */
    concurrencyLimit: json<{ limit: number; collision_strategy: string } | null>("concurrency_limit"),
  },
  (t) => [uniqueIndex("deployments_flow_name").on(t.flowId, t.name)],
);

export const deploymentSchedules = pgTable(
  "deployment_schedules",
  {
    id: text("id").primaryKey(),
    created: created(),
    updated: updated(),
    deploymentId: text("deployment_id")
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    /** The canonical schedule spec ({interval,...} | {cron,...} | {rrule,...}). */
    schedule: json<Record<string, unknown>>("schedule").notNull(),
    active: boolean("active").notNull(),
    /** Overrides the deployment's parameters for runs this schedule creates. */
    parameters: json<Record<string, unknown>>("parameters").notNull(),
    slug: text("slug"),
    /** Why the scheduler could not compute this schedule's runs on its last try (null when it could). */
    error: text("error"),
    /** At most this many of this schedule's runs active at once (Prefect 3's max_active_runs). */
    maxActiveRuns: integer("max_active_runs"),
    /** false: this schedule's late runs are not caught up (Prefect 3's per-schedule catchup). */
    catchup: boolean("catchup"),
  },
  (t) => [
    index("deployment_schedules_deployment").on(t.deploymentId),
    uniqueIndex("deployment_schedules_slug").on(t.deploymentId, t.slug),
  ],
);

export const flowRuns = pgTable(
  "flow_runs",
  {
    id: text("id").primaryKey(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    flowId: text("flow_id")
      .notNull()
      .references(() => flows.id, { onDelete: "cascade" }),
    deploymentId: text("deployment_id").references(() => deployments.id, { onDelete: "set null" }),
    workPoolName: text("work_pool_name"),
    workQueueName: text("work_queue_name"),
    parameters: json<Record<string, unknown>>("parameters").notNull(),
    jobVariables: json<Record<string, unknown>>("job_variables").notNull(),
    tags: json<string[]>("tags").notNull(),
    stateType: text("state_type").notNull(),
    stateName: text("state_name").notNull(),
    stateMessage: text("state_message"),
    stateTimestamp: text("state_timestamp").notNull(),
    expectedStartTime: text("expected_start_time"),
    nextScheduledStartTime: text("next_scheduled_start_time"),
    startTime: text("start_time"),
    endTime: text("end_time"),
    /** Milliseconds; bigint because a run longer than 24.8 days overflows a 32-bit integer. */
    totalRunTime: bigint("total_run_time", { mode: "number" }).notNull(),
    runCount: integer("run_count").notNull(),
    agentId: text("agent_id"),
    infrastructurePid: text("infrastructure_pid"),
    autoScheduled: boolean("auto_scheduled").notNull().default(false),
    scheduleId: text("schedule_id"),
    /** One run per (deployment, schedule, time): the scheduler's inserts collide here, never duplicate. */
    idempotencyKey: text("idempotency_key"),
    /** A subflow's parent run, and the task run that stands for it in the parent (as Prefect). */
    parentFlowRunId: text("parent_flow_run_id"),
    parentTaskRunId: text("parent_task_run_id"),
  },
  (t) => [
    uniqueIndex("flow_runs_idempotency").on(t.idempotencyKey),
    index("flow_runs_parent").on(t.parentFlowRunId),
    index("flow_runs_schedule").on(t.scheduleId, t.expectedStartTime),
    index("flow_runs_claim").on(t.workPoolName, t.stateType, t.nextScheduledStartTime),
    index("flow_runs_deployment").on(t.deploymentId, t.created, t.id),
    index("flow_runs_state").on(t.stateType, t.created, t.id),
    index("flow_runs_created").on(t.created),
    // `weir flow-run logs calm-ocelot`: runs are found by the name the CLI and UI show.
    index("flow_runs_name").on(t.name),
  ],
);

export const flowRunStates = pgTable(
  "flow_run_states",
  {
    id: text("id").primaryKey(),
    flowRunId: text("flow_run_id")
      .notNull()
      .references(() => flowRuns.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    name: text("name").notNull(),
    message: text("message"),
    timestamp: text("timestamp").notNull(),
    data: json<Record<string, unknown> | null>("data"),
  },
  (t) => [index("flow_run_states_run").on(t.flowRunId, t.timestamp)],
);

export const taskRuns = pgTable(
  "task_runs",
  {
    id: text("id").primaryKey(),
    created: created(),
    updated: updated(),
    flowRunId: text("flow_run_id")
      .notNull()
      .references(() => flowRuns.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    taskKey: text("task_key").notNull(),
    stateType: text("state_type").notNull(),
    stateName: text("state_name").notNull(),
    stateMessage: text("state_message"),
    stateTimestamp: text("state_timestamp").notNull(),
    startTime: text("start_time"),
    endTime: text("end_time"),
    runCount: integer("run_count").notNull(),
    history: json<{ type: string; name: string; timestamp: string; message?: string }[]>("history").notNull(),
  },
  (t) => [index("task_runs_flow_run").on(t.flowRunId)],
);

/** A flow run's return value, as JSON text (size-capped by the engine and the API). */
export const flowRunResults = pgTable("flow_run_results", {
  flowRunId: text("flow_run_id")
    .primaryKey()
    .references(() => flowRuns.id, { onDelete: "cascade" }),
  created: created(),
  bytes: integer("bytes").notNull(),
  json: text("json").notNull(),
});

export const logs = pgTable(
  "logs",
  {
    /** SQLite: integer primary key autoincrement. Ids only grow; bigint for long-lived stores. */
    id: bigint("id", { mode: "number" }).primaryKey().generatedByDefaultAsIdentity(),
    flowRunId: text("flow_run_id")
      .notNull()
      .references(() => flowRuns.id, { onDelete: "cascade" }),
    taskRunId: text("task_run_id"),
    name: text("name").notNull(),
    level: integer("level").notNull(),
    message: text("message").notNull(),
    timestamp: text("timestamp").notNull(),
  },
  (t) => [index("logs_flow_run").on(t.flowRunId, t.id)],
);

export const workPools = pgTable("work_pools", {
  id: text("id").primaryKey(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  type: text("type").notNull(),
  description: text("description"),
  isPaused: boolean("is_paused").notNull(),
  concurrencyLimit: integer("concurrency_limit"),
  baseJobTemplate: json<Record<string, unknown>>("base_job_template").notNull(),
});

export const workQueues = pgTable(
  "work_queues",
  {
    id: text("id").primaryKey(),
    created: created(),
    updated: updated(),
    workPoolId: text("work_pool_id")
      .notNull()
      .references(() => workPools.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    priority: integer("priority").notNull(),
    concurrencyLimit: integer("concurrency_limit"),
    isPaused: boolean("is_paused").notNull(),
  },
  (t) => [uniqueIndex("work_queues_pool_name").on(t.workPoolId, t.name)],
);

/**
 * The servers using this database now: each writes its row when it starts and every few seconds
 * after, and deletes it when it stops. What must not run beside a server (`weir secret-key
 * rotate`) looks here. Not exported by `weir db export`: it describes processes, not data.
 */
export const servers = pgTable("servers", {
  id: text("id").primaryKey(),
  host: text("host").notNull(),
  pid: integer("pid").notNull(),
  started: text("started").notNull(),
  lastSeen: text("last_seen").notNull(),
});

export const agents = pgTable(
  "agents",
  {
    id: text("id").primaryKey(),
    created: created(),
    name: text("name").notNull(),
    workPoolName: text("work_pool_name").notNull(),
    workQueues: json<string[]>("work_queues").notNull(),
    lastHeartbeat: text("last_heartbeat").notNull(),
    /** When the agent said it had stopped (null while it runs). */
    stopped: text("stopped"),
  },
  (t) => [index("agents_pool").on(t.workPoolName)],
);

/** Tag-based concurrency limits: at most `limit` active flow runs carrying the tag. */
export const concurrencyLimits = pgTable("concurrency_limits", {
  id: text("id").primaryKey(),
  created: created(),
  updated: updated(),
  tag: text("tag").notNull().unique(),
  limit: integer("concurrency_limit").notNull(),
});

export const variables = pgTable("variables", {
  id: text("id").primaryKey(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  value: json<unknown>("value"),
  tags: json<string[]>("tags").notNull(),
});

export const blockDocuments = pgTable(
  "block_documents",
  {
    id: text("id").primaryKey(),
    created: created(),
    updated: updated(),
    /** Block type slug (secret, github-credentials, ...). */
    type: text("type").notNull(),
    name: text("name").notNull(),
    data: json<Record<string, unknown>>("data").notNull(),
  },
  (t) => [uniqueIndex("block_documents_type_name").on(t.type, t.name)],
);

export const apiTokens = pgTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    created: created(),
    name: text("name").notNull(),
    scope: text("scope").notNull(),
    workPoolName: text("work_pool_name"),
    flowRunId: text("flow_run_id"),
    hash: text("hash").notNull(),
    expires: text("expires"),
    revoked: text("revoked"),
  },
  (t) => [
    uniqueIndex("api_tokens_hash").on(t.hash),
    index("api_tokens_name").on(t.name),
    // Every run's end deletes its run tokens by run.
    index("api_tokens_flow_run").on(t.flowRunId),
  ],
);
