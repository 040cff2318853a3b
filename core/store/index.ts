export * from "./agents.ts";
export * from "./blocks.ts";
export * from "./deployments.ts";
export * from "./flow-runs.ts";
export * from "./flows.ts";
export * from "./logs.ts";
export {
  type Db,
  databaseUrl,
  type OpenStoreOptions,
  openStore,
  redactUrl,
  type Store,
} from "./open-store.ts";
export { newId, nowIso } from "./rows.ts";
export { FlowRunWriter } from "./run-writer.ts";
export * from "./schedules.ts";
export * from "./task-runs.ts";
export * from "./variables.ts";
export * from "./work-pools.ts";
