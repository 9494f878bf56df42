/**
 * The workflow engine's public API. Stable: the tenant pipeline, service provisioning and the
 * loader code against these exports only.
 */
export * from "./types.js";
export {
  defineWorkflow,
  workflowRegistry,
  WorkflowRegistry,
  retryDelayMs,
  pollIntervalMs,
  DEFAULT_POLL,
  DEFAULT_TIMEOUT_MS,
  type ResolvedStep,
  type ResolvedWorkflow,
} from "./definitions.js";
export { startWorkflow, type StartWorkflowInput } from "./start.js";
export { startWorker, CALLBACK_PATH, type Worker, type WorkerOptions, type WorkerHost } from "./worker.js";
export { REDACTED } from "./execute.js";
export { retryWorkflowStep, forceCompleteWorkflow, rollbackWorkflow, cancelWorkflow, type AdminAction } from "./admin.js";
export { completeCallback, type CallbackReport, type CallbackOutcome } from "./callback.js";
export { getWorkflow, listWorkflows, latestServiceWorkflow, stepsOf, workflowHistory, type WorkflowFilter } from "./queries.js";
export { startWorkerRole } from "./role.js";
