import * as v from "valibot";
import { CATCHUP_POLICIES, STATE_TYPES } from "../model/index.ts";

// Request bodies of the API. Responses are the types in core/model.

const record = v.record(v.string(), v.unknown());
const tags = v.array(v.string());
const nullableString = v.nullish(v.string());

export const StateBody = v.object({
  type: v.picklist(STATE_TYPES),
  name: v.optional(v.string()),
  message: v.optional(v.string()),
  data: v.optional(record),
  scheduled_time: v.optional(v.pipe(v.string(), v.isoTimestamp())),
});

export const ScheduleBody = v.object({
  schedule: record,
  active: v.optional(v.boolean()),
  parameters: v.optional(record),
  slug: v.nullish(v.pipe(v.string(), v.minLength(1))),
});

export const DeploymentBody = v.object({
  flow_name: v.pipe(v.string(), v.minLength(1)),
  name: v.pipe(v.string(), v.minLength(1), v.regex(/^[^/]+$/, "must not contain '/'")),
  version: nullableString,
  description: nullableString,
  schedule: v.nullish(record),
  is_schedule_active: v.optional(v.boolean()),
  parameters: v.optional(record),
  tags: v.optional(tags),
  work_pool_name: nullableString,
  work_queue_name: nullableString,
  parameter_openapi_schema: v.nullish(record),
  path: nullableString,
  entrypoint: nullableString,
  storage_document_id: nullableString,
  infrastructure_document_id: nullableString,
  job_variables: v.optional(record),
  pull_steps: v.nullish(v.array(v.unknown())),
  enforce_parameter_schema: v.optional(v.boolean()),
  paused: v.optional(v.boolean()),
  /** Replaces the schedules when present ([] or null removes them); absent keeps them. */
  schedules: v.nullish(v.array(ScheduleBody)),
  catchup: v.optional(v.picklist(CATCHUP_POLICIES)),
  triggers: v.nullish(v.array(v.unknown())),
  concurrency_limit: v.nullish(
    v.object({
      limit: v.pipe(v.number(), v.integer(), v.minValue(0)),
      collision_strategy: v.picklist(["ENQUEUE", "CANCEL_NEW"]),
    }),
  ),
});

export const ReplaceSchedulesBody = v.object({ schedules: v.array(ScheduleBody) });

export const RunDeploymentBody = v.object({
  parameters: v.optional(record),
  tags: v.optional(tags),
  job_variables: v.optional(record),
  name: v.optional(v.string()),
  scheduled_time: v.optional(v.pipe(v.string(), v.isoTimestamp())),
});

export const FlowRunBody = v.object({
  flow_name: v.pipe(v.string(), v.minLength(1)),
  name: v.optional(v.string()),
  parameters: v.optional(record),
  tags: v.optional(tags),
  state: v.optional(StateBody),
});

export const TaskRunBody = v.object({
  id: v.optional(v.pipe(v.string(), v.uuid())),
  flow_run_id: v.string(),
  name: v.string(),
  task_key: v.string(),
  state: StateBody,
});

export const TaskRunSnapshotsBody = v.array(
  v.object({
    id: v.pipe(v.string(), v.uuid()),
    flow_run_id: v.string(),
    name: v.string(),
    task_key: v.string(),
    state: v.object({
      type: v.picklist(STATE_TYPES),
      name: v.string(),
      message: v.nullish(v.string()),
      timestamp: v.pipe(v.string(), v.isoTimestamp()),
    }),
    start_time: v.nullable(v.pipe(v.string(), v.isoTimestamp())),
    end_time: v.nullable(v.pipe(v.string(), v.isoTimestamp())),
    run_count: v.pipe(v.number(), v.integer(), v.minValue(0)),
    history: v.array(
      v.object({
        type: v.string(),
        name: v.string(),
        timestamp: v.string(),
        message: v.optional(v.string()),
      }),
    ),
  }),
);

export const LogsBody = v.array(
  v.object({
    flow_run_id: v.string(),
    task_run_id: v.nullish(v.string(), null),
    name: v.string(),
    level: v.pipe(v.number(), v.integer()),
    message: v.string(),
    timestamp: v.pipe(v.string(), v.isoTimestamp()),
  }),
);

export const WorkPoolBody = v.object({
  name: v.pipe(
    v.string(),
    v.minLength(1),
    v.regex(/^[\w.-]+$/, "may hold letters, digits, '_', '.' and '-' only"),
  ),
  type: v.optional(v.string()),
  description: nullableString,
  concurrency_limit: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0))),
  is_paused: v.optional(v.boolean()),
  base_job_template: v.optional(record),
});

export const WorkQueueBody = v.object({
  name: v.pipe(v.string(), v.minLength(1)),
  priority: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

export const ClaimBody = v.object({
  agent_id: v.string(),
  queues: v.optional(v.array(v.string()), []),
  limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100)), 1),
  wait_ms: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(60_000)), 0),
  /** Cancellations the agent already acts on, so they do not end the wait again. */
  cancelling_seen: v.optional(v.array(v.string()), []),
});

export const HeartbeatBody = v.object({
  id: v.string(),
  name: v.string(),
  work_pool_name: v.string(),
  work_queues: v.optional(v.array(v.string()), []),
});

export const VariableBody = v.object({ value: v.unknown(), tags: v.optional(tags) });
