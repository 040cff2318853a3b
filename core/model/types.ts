import type { StateType } from "./state.ts";

// The API representation of each resource (snake_case, as Prefect's API and the seeds show them).
// The store maps its rows to these; the client, CLI, agent and engine use only these.

export interface State {
  type: StateType;
  name: string;
  message: string | null;
  timestamp: string;
  data?: Record<string, unknown> | null;
}

export interface Flow {
  id: string;
  created: string;
  updated: string;
  name: string;
  tags: string[];
}

export interface Deployment {
  id: string;
  created: string;
  updated: string;
  name: string;
  version: string | null;
  description: string | null;
  flow_id: string;
  flow_name: string;
  schedule: Record<string, unknown> | null;
  is_schedule_active: boolean;
  /** Prefect's older name for job_variables; the same object. */
  infra_overrides: Record<string, unknown>;
  parameters: Record<string, unknown>;
  tags: string[];
  work_queue_name: string | null;
  work_pool_name: string | null;
  parameter_openapi_schema: Record<string, unknown> | null;
  path: string | null;
  entrypoint: string | null;
  storage_document_id: string | null;
  infrastructure_document_id: string | null;
  job_variables: Record<string, unknown>;
  pull_steps: unknown[] | null;
  enforce_parameter_schema: boolean;
  paused: boolean;
  schedules: DeploymentSchedule[];
  /** What the scheduler does with missed runs: all | latest | none. */
  catchup: Catchup;
  /** Event triggers, stored as written (automations come later). */
  triggers: unknown[] | null;
  /** Stored now; enforced with work-pool concurrency later. */
  concurrency_limit: { limit: number; collision_strategy: string } | null;
}

export const CATCHUP_POLICIES = ["all", "latest", "none"] as const;
export type Catchup = (typeof CATCHUP_POLICIES)[number];

export interface DeploymentSchedule {
  id: string;
  created: string;
  updated: string;
  deployment_id: string;
  /** {interval, anchor_date, timezone} | {cron, timezone, day_or} | {rrule, timezone} */
  schedule: Record<string, unknown>;
  active: boolean;
  parameters: Record<string, unknown>;
  slug: string | null;
  /** Why the scheduler could not compute this schedule's runs on its last try; null when it could. */
  error: string | null;
  /** At most this many of the schedule's runs active at once; null: no limit of its own. */
  max_active_runs: number | null;
  /** false: the schedule's late runs are not caught up; null: the deployment's catchup applies. */
  catchup: boolean | null;
}

/** A tag-based concurrency limit: at most `limit` active flow runs carrying `tag`. */
export interface ConcurrencyLimit {
  id: string;
  created: string;
  updated: string;
  tag: string;
  limit: number;
  /** Active flow runs carrying the tag now. */
  active: number;
}

export interface FlowRun {
  id: string;
  created: string;
  updated: string;
  name: string;
  flow_id: string;
  flow_name: string;
  deployment_id: string | null;
  deployment_name: string | null;
  work_pool_name: string | null;
  work_queue_name: string | null;
  parameters: Record<string, unknown>;
  job_variables: Record<string, unknown>;
  tags: string[];
  state: State;
  expected_start_time: string | null;
  next_scheduled_start_time: string | null;
  start_time: string | null;
  end_time: string | null;
  total_run_time: number;
  run_count: number;
  agent_id: string | null;
  infrastructure_pid: string | null;
  auto_scheduled: boolean;
  schedule_id: string | null;
  /** Set on a subflow run: the run that called it, and the task run standing for it there. */
  parent_flow_run_id: string | null;
  parent_task_run_id: string | null;
}

export interface TaskRun {
  id: string;
  created: string;
  updated: string;
  flow_run_id: string;
  name: string;
  task_key: string;
  state: State;
  start_time: string | null;
  end_time: string | null;
  run_count: number;
  history: { type: string; name: string; timestamp: string; message?: string }[];
}

/** A task run as an engine last saw it (its own clock), written whole by the engine. */
export interface TaskRunSnapshot {
  id: string;
  flow_run_id: string;
  name: string;
  task_key: string;
  state: { type: string; name: string; message?: string | null; timestamp: string };
  start_time: string | null;
  end_time: string | null;
  run_count: number;
  history: TaskRun["history"];
}

export interface LogEntry {
  id: number;
  flow_run_id: string;
  task_run_id: string | null;
  name: string;
  level: number;
  message: string;
  timestamp: string;
}

export interface WorkQueue {
  id: string;
  name: string;
  description: string | null;
  priority: number;
  concurrency_limit: number | null;
  is_paused: boolean;
}

export interface WorkPool {
  id: string;
  created: string;
  updated: string;
  name: string;
  type: string;
  description: string | null;
  is_paused: boolean;
  concurrency_limit: number | null;
  base_job_template: Record<string, unknown>;
  queues: WorkQueue[];
}

export interface Agent {
  id: string;
  name: string;
  work_pool_name: string;
  work_queues: string[];
  last_heartbeat: string;
  /** When it said it had stopped (a clean stop), or null; a later heartbeat clears it. */
  stopped?: string | null;
  /** ONLINE while its heartbeats arrive (within the server's agent timeout), else OFFLINE. */
  status?: "ONLINE" | "OFFLINE";
}

export interface Variable {
  id: string;
  created: string;
  updated: string;
  name: string;
  value: unknown;
  tags: string[];
}

export const LOG_LEVELS = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;
export function levelName(level: number): string {
  if (level >= 50) return "CRITICAL";
  if (level >= 40) return "ERROR";
  if (level >= 30) return "WARNING";
  if (level >= 20) return "INFO";
  return "DEBUG";
}

/** An API token as listed: never its value or hash. */
export interface TokenInfo {
  id: string;
  name: string;
  scope: string;
  work_pool_name: string | null;
  flow_run_id: string | null;
  created: string;
  expires: string | null;
  revoked: string | null;
}
