// Every operation of the store, each taking the Conn it runs on first. `Store` (store.ts) binds
// them to one database, which is all code outside core/store ever sees.
export { heartbeat, listAgents } from "./agents.ts";
export {
  deleteBlock,
  findBlock,
  findBlockById,
  getBlock,
  listBlocks,
  replaceBlockData,
  saveBlock,
} from "./blocks.ts";
export { claimFlowRuns } from "./claims.ts";
export {
  deleteConcurrencyLimit,
  getConcurrencyLimit,
  listConcurrencyLimits,
  setConcurrencyLimit,
} from "./concurrency-limits.ts";
export {
  deleteDeployment,
  getDeployment,
  getDeploymentsByIds,
  listDeployments,
  setDeploymentPaused,
  setScheduleActiveForDeployment,
  updateDeploymentFields,
  upsertDeployment,
} from "./deployments.ts";
export {
  ancestorRunIds,
  createFlowRun,
  createFlowRuns,
  descendantRuns,
  findFlowRunByIdempotencyKey,
  getFlowRun,
  getFlowRunResult,
  listCancellingRuns,
  listFlowRunStates,
  listFlowRuns,
  nextScheduledStart,
  releaseClaims,
  retryFlowRun,
  runsNotHeldBy,
  saveFlowRunResult,
  setFlowRunState,
  setInfrastructurePid,
  sweepOrphanedRuns,
  unclaimedByAgent,
} from "./flow-runs.ts";
export { getFlowByName, listFlows, upsertFlow } from "./flows.ts";
export { insertLogs, listLogs, listLogTail } from "./logs.ts";
export {
  createSchedule,
  deleteSchedules,
  getSchedule,
  replaceSchedules,
  setScheduleActive,
  setScheduleErrors,
  touchSchedules,
} from "./schedules.ts";
export { insertScheduledRuns, markLateAndCatchUp, scheduleCandidates } from "./scheduling.ts";
export { liveServers, serverGone, serverSeen } from "./servers.ts";
export { createTaskRun, listTaskRuns, setTaskRunState, upsertTaskRuns } from "./task-runs.ts";
export {
  createToken,
  findTokenByHash,
  listTokens,
  revokeRunTokens,
  revokeToken,
} from "./tokens.ts";
export { afterImport, countRows, readTable, writeRows } from "./transfer.ts";
export { deleteVariable, getVariable, listVariables, setVariable } from "./variables.ts";
export {
  createWorkPool,
  createWorkQueue,
  deleteWorkPool,
  deleteWorkQueue,
  ensureWorkQueue,
  findWorkPool,
  getWorkPool,
  listWorkPools,
  requireWorkPool,
  setWorkPoolPaused,
  updateWorkPool,
  updateWorkQueue,
} from "./work-pools.ts";
