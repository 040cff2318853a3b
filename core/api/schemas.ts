import * as v from "valibot";
import { DEFAULT_LIMITS, LIMIT_SETTINGS, type Limits } from "../config/index.ts";
import { CATCHUP_POLICIES, STATE_TYPES } from "../model/index.ts";

// Request bodies of the API, built from the server's limits so every size and shape limit is one
// valibot check with a message naming the limit and its setting. Responses are core/model types.

/** Bytes of a value as JSON (what the database stores). */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? "");

const CONTROL = /[\u0000-\u001f\u007f]/;
/** A NUL byte kept visible as the six characters \u0000 instead of cutting the text short. */
export const escapeNul = (text: string): string => text.replaceAll("\u0000", "\\u0000");

/** Whether a string anywhere in a JSON value (a value or a key) holds a NUL character. */
function hasNul(x: unknown, depth = 0): boolean {
  if (typeof x === "string") return x.includes("\u0000");
  if (!x || typeof x !== "object" || depth > 200) return false;
  for (const [k, y] of Object.entries(x)) if (k.includes("\u0000") || hasNul(y, depth + 1)) return true;
  return false;
}

/** A JSON value with every NUL in its strings written as the six characters \u0000 (see escapeNul). */
function escapeNulDeep(x: unknown, depth = 0): unknown {
  if (typeof x === "string") return escapeNul(x);
  if (!x || typeof x !== "object" || depth > 200) return x;
  if (Array.isArray(x)) return x.map((y) => escapeNulDeep(y, depth + 1));
  return Object.fromEntries(Object.entries(x).map(([k, y]) => [escapeNul(k), escapeNulDeep(y, depth + 1)]));
}

/**
 * PostgreSQL stores no NUL character in JSON, SQLite does: refused in JSON values on both, so no
 * write fails on one database only and a database moves between them.
 */
const NO_NUL =
  "must not contain the NUL character (\\u0000) in any text; remove it, or encode the value (base64)";

export function bodySchemas(limits: Limits = DEFAULT_LIMITS) {
  const L = limits;
  const setting = (key: keyof Limits) => LIMIT_SETTINGS[key];
  const name = v.pipe(
    v.string(),
    v.minLength(1, "must not be empty"),
    v.maxLength(
      L.maxNameLength,
      `must be at most ${L.maxNameLength} characters (${setting("maxNameLength")})`,
    ),
    v.check((s) => !CONTROL.test(s), "must not contain control characters (NUL, tabs or line breaks)"),
    v.check((s) => s !== "." && s !== "..", 'must not be "." or ".." (in a URL they mean folders)'),
  );
  const text = v.pipe(
    v.string(),
    v.maxLength(
      L.maxTextLength,
      `must be at most ${L.maxTextLength} characters (${setting("maxTextLength")})`,
    ),
    v.check((s) => !s.includes("\u0000"), "must not contain NUL bytes"),
    // Terminal escape sequences in a description would redraw the screen of whoever lists it.
    v.check(
      (s) => !/[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s),
      "must not contain control characters other than tabs and line breaks (an escape sequence would redraw a terminal)",
    ),
  );
  /** Free text from engines (errors, state messages): NUL is escaped, not refused. */
  const message = v.pipe(
    v.string(),
    v.maxLength(
      L.maxTextLength,
      `must be at most ${L.maxTextLength} characters (${setting("maxTextLength")})`,
    ),
    v.transform(escapeNul),
  );
  const json = (key: keyof Limits) =>
    v.pipe(
      v.record(v.string(), v.unknown()),
      v.check(
        (value) => jsonBytes(value) <= L[key],
        `is larger than ${L[key]} bytes as JSON (${setting(key)})`,
      ),
      v.check((value) => !hasNul(value), NO_NUL),
    );
  const record = v.pipe(
    v.record(v.string(), v.unknown()),
    v.check((value) => !hasNul(value), NO_NUL),
  );
  /** A list (pull steps, triggers) limited like job variables. */
  const jsonList = v.pipe(
    v.array(v.unknown()),
    v.check(
      (list) => jsonBytes(list) <= L.maxJobVariablesBytes,
      `is larger than ${L.maxJobVariablesBytes} bytes as JSON (${setting("maxJobVariablesBytes")})`,
    ),
    v.check((value) => !hasNul(value), NO_NUL),
  );
  const tags = v.pipe(v.array(name), v.maxLength(100, "must hold at most 100 tags"));
  const nullableName = v.nullish(name);
  const nullableText = v.nullish(text);
  const timestamp = v.pipe(v.string(), v.isoTimestamp("must be an ISO 8601 date-time"));

  const StateBody = v.object({
    type: v.picklist(STATE_TYPES),
    name: v.optional(name),
    message: v.optional(message),
    // What an engine reports about a failure (an error's message and stack): a NUL in it is
    // escaped as in messages, never a reason to refuse the run's final state.
    data: v.optional(
      v.pipe(
        v.record(v.string(), v.unknown()),
        v.transform((x) => escapeNulDeep(x) as Record<string, unknown>),
        v.check(
          (value) => jsonBytes(value) <= L.maxParametersBytes,
          `is larger than ${L.maxParametersBytes} bytes as JSON (${setting("maxParametersBytes")})`,
        ),
      ),
    ),
    scheduled_time: v.optional(timestamp),
    /** The agent whose claim the reporter runs under: refused once the run is another's. */
    agent_id: v.optional(name),
  });

  const batch = <T extends v.GenericSchema>(item: T, what: string) =>
    v.pipe(
      v.array(item),
      v.maxLength(L.maxBatch, `must hold at most ${L.maxBatch} ${what} (${setting("maxBatch")})`),
    );

  const TaskRunSnapshotsBody = batch(
    v.object({
      id: v.pipe(v.string(), v.uuid()),
      flow_run_id: v.pipe(v.string(), v.uuid("must be a flow run id")),
      name,
      task_key: name,
      state: v.object({
        type: v.picklist(STATE_TYPES),
        name,
        message: v.nullish(message),
        timestamp,
      }),
      start_time: v.nullable(timestamp),
      end_time: v.nullable(timestamp),
      run_count: v.pipe(v.number(), v.integer(), v.minValue(0)),
      history: v.pipe(
        v.array(
          v.object({
            type: v.picklist(STATE_TYPES),
            name,
            timestamp,
            message: v.optional(message),
          }),
        ),
        v.maxLength(1000, "must hold at most 1000 states"),
      ),
    }),
    "task runs",
  );

  /**
   * A flow run's proposal; a COMPLETED one may carry the flow's return value as JSON text, and any
   * one the run's task runs not yet reported.
   */
  const FlowRunStateBody = v.object({
    ...StateBody.entries,
    /** Written with the state, after its checks (an engine's last batch rides with its final state). */
    task_runs: v.optional(TaskRunSnapshotsBody),
    result: v.optional(
      v.pipe(
        v.string("must be the return value as JSON text"),
        v.check(
          (text) => Buffer.byteLength(text) <= L.maxResultBytes,
          (issue) =>
            `is ${Buffer.byteLength(issue.input as string)} bytes of JSON, over the ${L.maxResultBytes}-byte limit for a flow run's result (${setting("maxResultBytes")}); return a smaller value, or store the data elsewhere and return where it is`,
        ),
        v.check((text) => {
          try {
            JSON.parse(text);
            return true;
          } catch {
            return false;
          }
        }, "must be valid JSON text"),
      ),
    ),
  });

  const ScheduleBody = v.object({
    schedule: record,
    active: v.optional(v.boolean()),
    parameters: v.optional(json("maxParametersBytes")),
    slug: v.nullish(name),
    max_active_runs: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000))),
    catchup: v.nullish(v.boolean()),
  });
  const schedules = v.pipe(v.array(ScheduleBody), v.maxLength(100, "must hold at most 100 schedules"));

  const DeploymentBody = v.object({
    flow_name: name,
    name: v.pipe(name, v.regex(/^[^/]+$/, "must not contain '/'")),
    version: nullableText,
    description: nullableText,
    schedule: v.nullish(record),
    is_schedule_active: v.optional(v.boolean()),
    parameters: v.optional(json("maxParametersBytes")),
    tags: v.optional(tags),
    work_pool_name: nullableName,
    work_queue_name: nullableName,
    parameter_openapi_schema: v.nullish(json("maxParametersBytes")),
    path: nullableText,
    entrypoint: nullableText,
    storage_document_id: nullableText,
    infrastructure_document_id: nullableText,
    job_variables: v.optional(json("maxJobVariablesBytes")),
    pull_steps: v.nullish(jsonList),
    enforce_parameter_schema: v.optional(v.boolean()),
    paused: v.optional(v.boolean()),
    /** Replaces the schedules when present ([] or null removes them); absent keeps them. */
    schedules: v.nullish(schedules),
    catchup: v.optional(v.picklist(CATCHUP_POLICIES)),
    triggers: v.nullish(jsonList),
    concurrency_limit: v.nullish(
      v.object({
        limit: v.pipe(
          v.number(),
          v.integer(),
          v.minValue(
            1,
            "must be 1 or more (0 would hold every run forever: to hold them, pause its work queue or pool)",
          ),
        ),
        collision_strategy: v.picklist(["ENQUEUE", "CANCEL_NEW"]),
      }),
    ),
  });

  const ReplaceSchedulesBody = v.object({ schedules });

  /** What a person edits by hand (the UI): each field absent is left as it is. */
  const DeploymentPatchBody = v.strictObject({
    description: nullableText,
    parameters: v.optional(json("maxParametersBytes")),
    tags: v.optional(tags),
  });

  const RunDeploymentBody = v.object({
    parameters: v.optional(json("maxParametersBytes")),
    tags: v.optional(tags),
    job_variables: v.optional(json("maxJobVariablesBytes")),
    name: v.optional(name),
    scheduled_time: v.optional(timestamp),
    /** A queue of the deployment's pool (made when missing, as Prefect's run_deployment does). */
    work_queue_name: v.optional(name),
    /** The same key for the same deployment returns the run it made instead of a new one. */
    idempotency_key: v.optional(name),
    /** A subflow run: the run that started it and the task run that stands for it there. */
    parent_flow_run_id: v.optional(v.pipe(v.string(), v.uuid("must be a flow run id"))),
    parent_task_run_id: v.optional(v.pipe(v.string(), v.uuid("must be a task run id"))),
  });

  const FlowRunBody = v.object({
    flow_name: name,
    name: v.optional(name),
    parameters: v.optional(json("maxParametersBytes")),
    tags: v.optional(tags),
    state: v.optional(StateBody),
    /** A subflow run: the run that started it and the task run that stands for it there. */
    parent_flow_run_id: v.optional(v.pipe(v.string(), v.uuid("must be a flow run id"))),
    parent_task_run_id: v.optional(v.pipe(v.string(), v.uuid("must be a task run id"))),
  });

  const TaskRunBody = v.object({
    id: v.optional(v.pipe(v.string(), v.uuid())),
    flow_run_id: v.pipe(v.string(), v.uuid("must be a flow run id")),
    name,
    task_key: name,
    state: StateBody,
  });

  const LogsBody = batch(
    v.object({
      flow_run_id: v.pipe(v.string(), v.uuid("must be a flow run id")),
      task_run_id: v.nullish(v.pipe(v.string(), v.uuid("must be a task run id")), null),
      name,
      level: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100)),
      message: v.pipe(
        v.string(),
        v.maxLength(
          L.maxLogMessageLength,
          `must be at most ${L.maxLogMessageLength} characters (${setting("maxLogMessageLength")}; the engine splits longer lines)`,
        ),
        v.transform(escapeNul),
      ),
      timestamp,
    }),
    "log lines",
  );

  const WorkPoolBody = v.object({
    name: v.pipe(name, v.regex(/^[\w.-]+$/, "may hold letters, digits, '_', '.' and '-' only")),
    type: v.optional(name),
    description: nullableText,
    concurrency_limit: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000))),
    is_paused: v.optional(v.boolean()),
    base_job_template: v.optional(json("maxJobVariablesBytes")),
  });

  const WorkPoolUpdateBody = v.object({
    description: nullableText,
    concurrency_limit: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000))),
    base_job_template: v.optional(json("maxJobVariablesBytes")),
  });

  const priority = v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1_000_000)));
  const limit = v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000)));
  const WorkQueueBody = v.object({
    name,
    description: nullableText,
    priority,
    concurrency_limit: limit,
    is_paused: v.optional(v.boolean()),
  });
  const WorkQueueUpdateBody = v.object({
    description: nullableText,
    priority,
    concurrency_limit: limit,
    is_paused: v.optional(v.boolean()),
  });
  const ConcurrencyLimitBody = v.object({
    limit: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000)),
  });

  const START_PROBLEM = "must be true, false or a whole number from 0 to 100";
  const ClaimBody = v.object({
    agent_id: name,
    queues: v.optional(v.pipe(v.array(name), v.maxLength(1000)), []),
    limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100)), 1),
    wait_ms: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(60_000)), 0),
    /** Cancellations the agent already acts on, so they do not end the wait again. */
    cancelling_seen: v.optional(v.pipe(v.array(name), v.maxLength(10_000)), []),
    /**
     * The runs the agent has (starting or running). Runs claimed for it that it does not list are
     * handed to it again: the answer that carried them was lost (a server died mid-request).
     */
    running: v.optional(v.pipe(v.array(name), v.maxLength(10_000))),
    /**
     * The agent is stopping, and a claim of its may have been answered after it hung up: runs
     * claimed for it that `running` does not list go back to the queue, and nothing is claimed.
     */
    release: v.optional(v.boolean()),
    /**
     * The agent starts runs the moment it gets them: true, all of them (in its own process,
     * `--isolation none`); a number N, the first N (as many executors as it has started and
     * waiting). Those are answered RUNNING, their engines proposing no RUNNING of their own.
     */
    start: v.optional(
      v.union(
        [
          v.boolean(),
          v.pipe(
            v.number(),
            v.integer(START_PROBLEM),
            v.minValue(0, START_PROBLEM),
            v.maxValue(100, START_PROBLEM),
          ),
        ],
        START_PROBLEM,
      ),
      false,
    ),
  });

  const HeartbeatBody = v.object({
    id: name,
    name,
    work_pool_name: name,
    work_queues: v.optional(v.pipe(v.array(name), v.maxLength(1000)), []),
    /** The agent has stopped: shown OFFLINE at once, until it is heard again. */
    stopping: v.optional(v.boolean()),
    /** The runs the agent is running: the answer's `ended` names those no longer its own. */
    running: v.optional(v.pipe(v.array(name), v.maxLength(10_000))),
  });

  const VariableBody = v.object({
    value: v.pipe(
      v.unknown(),
      v.check(
        (value) => value !== undefined && jsonBytes(value) <= L.maxVariableBytes,
        `must be a JSON value of at most ${L.maxVariableBytes} bytes (${setting("maxVariableBytes")})`,
      ),
      v.check((value) => !hasNul(value), NO_NUL),
    ),
    tags: v.optional(tags),
  });

  const BlockBody = v.object({ type: name, name, data: json("maxBlockBytes") });
  /** Fields to change in a block's data; the fields absent (a secret left as it is) are kept. */
  const BlockPatchBody = v.object({ data: json("maxBlockBytes") });

  return {
    StateBody,
    FlowRunStateBody,
    ScheduleBody,
    DeploymentBody,
    ReplaceSchedulesBody,
    RunDeploymentBody,
    DeploymentPatchBody,
    BlockPatchBody,
    FlowRunBody,
    TaskRunBody,
    TaskRunSnapshotsBody,
    LogsBody,
    WorkPoolBody,
    WorkPoolUpdateBody,
    WorkQueueBody,
    WorkQueueUpdateBody,
    ConcurrencyLimitBody,
    ClaimBody,
    HeartbeatBody,
    VariableBody,
    BlockBody,
    /** Checks a name in a URL (a variable's, a block's): the same rules as in a body. */
    name,
    /** A variable's name: what `{{ prefect.variables.NAME }}` can spell. */
    variableName: v.pipe(
      name,
      v.regex(
        /^[\w.-]+$/,
        "may hold letters, digits, '_', '.' and '-' only, so {{ prefect.variables.NAME }} can name it",
      ),
    ),
  };
}

export type BodySchemas = ReturnType<typeof bodySchemas>;
