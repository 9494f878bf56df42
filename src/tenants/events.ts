/**
 * Tenant events on topic `tenant:<slug>`: every provisioning step change (projected from the
 * workflow) and the deprovisioning. The payload is the tenant's status snapshot (what
 * `tenantStatus` answers) and every step of the pipeline with its status, so a dashboard or the
 * CLI can draw the whole pipeline from any one event; never a secret.
 */
import type { Tenant } from "../../entities/tenant/tenant.entity.js";
import type { NewEvent } from "../events/index.js";

export const tenantTopic = (slug: string): string => `tenant:${slug}`;

export const TenantEventType = {
  /** A step of the tenant's provisioning workflow (or the workflow itself) changed. */
  PROVISIONING_CHANGED: "tenant.provisioning_changed",
  DEPROVISIONED: "tenant.deprovisioned",
} as const;

export interface TenantStatusPayload {
  tenantId: string;
  slug: string;
  provisioningState: string;
  completedSteps: string[];
  failedSteps: string[];
  lastError: string | null;
  updatedAt: string;
}

export interface TenantEventStep {
  name: string;
  position: number;
  status: string;
  attempt: number;
  error: string | null;
}

export interface TenantEventPayload extends Record<string, unknown> {
  tenant: TenantStatusPayload;
  workflowId: string | null;
  workflowStatus: string | null;
  /** Every step in order; empty when the event is not about the pipeline (deprovision). */
  steps: TenantEventStep[];
}

export function tenantStatusPayload(tenant: Tenant): TenantStatusPayload {
  return {
    tenantId: tenant.id,
    slug: tenant.slug,
    provisioningState: tenant.provisioningState,
    completedSteps: [...tenant.completedSteps],
    failedSteps: [...tenant.failedSteps],
    lastError: tenant.lastError,
    updatedAt: tenant.updatedAt.toISOString(),
  };
}

export interface TenantEventExtra {
  workflowId?: string | null;
  workflowStatus?: string | null;
  steps?: TenantEventStep[];
}

export function tenantEvent(tenant: Tenant, type: string, extra: TenantEventExtra = {}): NewEvent {
  const payload: TenantEventPayload = {
    tenant: tenantStatusPayload(tenant),
    workflowId: extra.workflowId ?? null,
    workflowStatus: extra.workflowStatus ?? null,
    steps: extra.steps ?? [],
  };
  return { tenantId: tenant.id, topic: tenantTopic(tenant.slug), type, payload };
}

/**
 * The pipeline's steps as far as the tenant row knows them (completed, failed, the rest pending):
 * the first frame of a subscription, before the workflow's own events arrive.
 */
export function stepsFromTenant(tenant: Tenant, names: readonly string[]): TenantEventStep[] {
  return names.map((name, i) => ({
    name,
    position: i + 1,
    status: tenant.completedSteps.includes(name) ? "COMPLETED" : tenant.failedSteps.includes(name) ? "FAILED" : "PENDING",
    attempt: 0,
    error: null,
  }));
}
