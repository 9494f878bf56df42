/**
 * The tenant's provisioning fields as a projection of its `tenant_provisioning` workflow: a pure
 * function of the workflow's snapshot, applied by the definition's `onChange` hook inside the same
 * transaction as every state change, so the tenant row never disagrees with its pipeline.
 */
import { ProvisioningState } from "../../entities/tenant/tenant.entity.js";

/** The parts of the engine's workflow snapshot the projection reads (structurally compatible). */
export interface PipelineSnapshot {
  status: string;
  error: string | null;
  steps?: { name: string; position: number; status: string; attempt: number; error: string | null }[];
}

export interface TenantProjection {
  provisioningState: ProvisioningState;
  completedSteps: string[];
  failedSteps: string[];
  lastError: string | null;
}

const IN_FLIGHT = new Set(["PENDING", "RUNNING", "WAITING"]);

export function projectTenant(workflow: PipelineSnapshot): TenantProjection {
  const steps = [...(workflow.steps ?? [])].sort((a, b) => a.position - b.position);
  const completedSteps = steps.filter((s) => s.status === "COMPLETED").map((s) => s.name);
  const failedSteps = steps.filter((s) => s.status === "FAILED" || s.status === "COMPENSATION_FAILED").map((s) => s.name);
  let provisioningState: ProvisioningState;
  if (workflow.status === "COMPLETED") provisioningState = ProvisioningState.ACTIVE;
  else if (IN_FLIGHT.has(workflow.status)) provisioningState = ProvisioningState.PROVISIONING;
  else provisioningState = ProvisioningState.FAILED; // FAILED, ROLLING_BACK, ROLLED_BACK, CANCELLED
  // The latest failure stays visible while a retry is pending; success clears it.
  const erroring = steps.find((s) => s.error !== null && s.status !== "COMPLETED" && s.status !== "SKIPPED");
  const lastError =
    provisioningState === ProvisioningState.ACTIVE
      ? null
      : (workflow.error ?? (erroring ? `${erroring.name}: ${erroring.error}` : null));
  return { provisioningState, completedSteps, failedSteps, lastError };
}
