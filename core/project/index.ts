export {
  type DeployOutcome,
  type DeployOverlay,
  deploymentBody,
  deployOne,
  type PlannedDeployment,
  parameterSchema,
  planDeployments,
} from "./deploy.ts";
export {
  isLegacyDeploymentFile,
  LEGACY_INFRASTRUCTURE,
  type LegacyBuild,
  legacyInfrastructure,
  MARKER,
  readLegacyFile,
  writeLegacyFile,
} from "./legacy.ts";
export {
  type DeploymentSpec,
  findProjectFile,
  loadProject,
  type Project,
  parseProject,
} from "./load-project.ts";
export { selectDeployments } from "./select.ts";
export { parseStorageRef, STORAGE_TYPES, storagePullSteps, storageUpload } from "./storage.ts";
