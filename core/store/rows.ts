import type {
  Catchup,
  Deployment,
  DeploymentSchedule,
  FlowRun,
  State,
  TaskRun,
  WorkPool,
  WorkQueue,
} from "../model/index.ts";
import type { StateType } from "../model/state.ts";
import type * as s from "./schema.ts";

// Row → API representation. The only place that knows both shapes.

/** One page of a list: `limit` rows after skipping `offset` (the API checks both against its limits). */
export interface Page {
  limit?: number;
  offset?: number;
}
export const DEFAULT_PAGE = 1000;

export const nowIso = (): string => new Date().toISOString();
export const newId = (): string => Bun.randomUUIDv7();

export function toSchedule(row: typeof s.deploymentSchedules.$inferSelect): DeploymentSchedule {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    deployment_id: row.deploymentId,
    schedule: row.schedule,
    active: row.active,
    parameters: row.parameters,
    slug: row.slug,
    error: row.error ?? null,
    max_active_runs: row.maxActiveRuns ?? null,
    catchup: row.catchup ?? null,
  };
}

export function toDeployment(
  row: typeof s.deployments.$inferSelect,
  flowName: string,
  schedules: DeploymentSchedule[] = [],
): Deployment {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    version: row.version,
    description: row.description,
    flow_id: row.flowId,
    flow_name: flowName,
    schedule: schedules[0]?.schedule ?? null,
    is_schedule_active: row.isScheduleActive,
    infra_overrides: row.jobVariables,
    parameters: row.parameters,
    tags: row.tags,
    work_queue_name: row.workQueueName,
    work_pool_name: row.workPoolName,
    parameter_openapi_schema: row.parameterOpenapiSchema ?? null,
    path: row.path,
    entrypoint: row.entrypoint,
    storage_document_id: row.storageDocumentId,
    infrastructure_document_id: row.infrastructureDocumentId,
    job_variables: row.jobVariables,
    pull_steps: row.pullSteps ?? null,
    enforce_parameter_schema: row.enforceParameterSchema,
    paused: row.paused,
    schedules,
    catchup: row.catchup as Catchup,
    triggers: row.triggers ?? null,
    concurrency_limit: row.concurrencyLimit ?? null,
  };
}

export function toFlowRun(
  row: typeof s.flowRuns.$inferSelect,
  flowName: string,
  deploymentName: string | null,
): FlowRun {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    flow_id: row.flowId,
    flow_name: flowName,
    deployment_id: row.deploymentId,
    deployment_name: deploymentName,
    work_pool_name: row.workPoolName,
    work_queue_name: row.workQueueName,
    parameters: row.parameters,
    job_variables: row.jobVariables,
    tags: row.tags,
    state: {
      type: row.stateType as StateType,
      name: row.stateName,
      message: row.stateMessage,
      timestamp: row.stateTimestamp,
    },
    expected_start_time: row.expectedStartTime,
    next_scheduled_start_time: row.nextScheduledStartTime,
    start_time: row.startTime,
    end_time: row.endTime,
    total_run_time: row.totalRunTime,
    run_count: row.runCount,
    agent_id: row.agentId,
    infrastructure_pid: row.infrastructurePid,
    auto_scheduled: row.autoScheduled,
    schedule_id: row.scheduleId,
    parent_flow_run_id: row.parentFlowRunId,
    parent_task_run_id: row.parentTaskRunId,
  };
}

export function toTaskRun(row: typeof s.taskRuns.$inferSelect): TaskRun {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    flow_run_id: row.flowRunId,
    name: row.name,
    task_key: row.taskKey,
    state: {
      type: row.stateType as StateType,
      name: row.stateName,
      message: row.stateMessage,
      timestamp: row.stateTimestamp,
    },
    start_time: row.startTime,
    end_time: row.endTime,
    run_count: row.runCount,
    history: row.history,
  };
}

export function toState(row: typeof s.flowRunStates.$inferSelect): State {
  return {
    type: row.type as StateType,
    name: row.name,
    message: row.message,
    timestamp: row.timestamp,
    data: row.data ?? null,
  };
}

export function toWorkQueue(row: typeof s.workQueues.$inferSelect): WorkQueue {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    priority: row.priority,
    concurrency_limit: row.concurrencyLimit,
    is_paused: row.isPaused,
  };
}

export function toWorkPool(row: typeof s.workPools.$inferSelect, queues: WorkQueue[]): WorkPool {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    type: row.type,
    description: row.description,
    is_paused: row.isPaused,
    concurrency_limit: row.concurrencyLimit,
    base_job_template: row.baseJobTemplate,
    queues,
  };
}
