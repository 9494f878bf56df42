/**
 * Tenant events on topic `tenant:<slug>`: every provisioning step change (projected from the
 * workflow) and the deprovisioning. The payload is the tenant's status snapshot (what
 * `tenantStatus` answers) plus, for step changes, the step that changed; never a secret.
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
  step: TenantEventStep | null;
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
  step?: TenantEventStep | null;
}

export function tenantEvent(tenant: Tenant, type: string, extra: TenantEventExtra = {}): NewEvent {
  const payload: TenantEventPayload = {
    tenant: tenantStatusPayload(tenant),
    workflowId: extra.workflowId ?? null,
    workflowStatus: extra.workflowStatus ?? null,
    step: extra.step ?? null,
  };
  return { tenantId: tenant.id, topic: tenantTopic(tenant.slug), type, payload };
}
