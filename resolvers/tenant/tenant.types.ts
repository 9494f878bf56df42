import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { SafeIntResolver } from "graphql-scalars";
import { ProvisioningState, type Tenant } from "../../entities/tenant/tenant.entity.js";
import { ConnectionType } from "../common/relay.js";
import type { StoredEvent } from "../../src/events/index.js";
import type { TenantEventPayload } from "../../src/tenants/events.js";
import { TENANT_STEP_TITLES } from "../../src/tenants/step-names.js";

registerEnumType(ProvisioningState, {
  name: "ProvisioningState",
  description: "Where a tenant is in its lifecycle; a projection of its provisioning workflow.",
});

@ObjectType("Tenant", { simpleResolvers: true, description: "A tenant of the platform." })
export class TenantType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  slug!: string;

  @Field(() => String)
  name!: string;

  @Field(() => ProvisioningState)
  provisioningState!: ProvisioningState;

  @Field(() => [String], { description: "Completed pipeline steps, `step_1` … `step_9`." })
  completedSteps!: string[];

  @Field(() => [String])
  failedSteps!: string[];

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType("TenantStatus", { simpleResolvers: true, description: "The provisioning status of one tenant." })
export class TenantStatusType {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => String)
  slug!: string;

  @Field(() => ProvisioningState)
  provisioningState!: ProvisioningState;

  @Field(() => [String])
  completedSteps!: string[];

  @Field(() => [String])
  failedSteps!: string[];

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Date)
  updatedAt!: Date;
}

export const TenantConnection = ConnectionType("Tenant", TenantType);

export function toTenantType(tenant: Tenant): TenantType {
  return {
    id: tenant.id,
    slug: tenant.slug,
    name: tenant.name,
    provisioningState: tenant.provisioningState,
    completedSteps: tenant.completedSteps,
    failedSteps: tenant.failedSteps,
    lastError: tenant.lastError,
    createdAt: tenant.createdAt,
    updatedAt: tenant.updatedAt,
  };
}

export function toTenantStatus(tenant: Tenant): TenantStatusType {
  return {
    tenantId: tenant.id,
    slug: tenant.slug,
    provisioningState: tenant.provisioningState,
    completedSteps: tenant.completedSteps,
    failedSteps: tenant.failedSteps,
    lastError: tenant.lastError,
    updatedAt: tenant.updatedAt,
  };
}

@ObjectType("TenantCredentials", { simpleResolvers: true,
  description: "A tenant's API key, shown once: send it as `X-API-Key`. Gantry keeps only its SHA-256.",
})
export class TenantCredentialsType {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => String)
  slug!: string;

  @Field(() => String, { description: "The key (`gtk_…`). Not retrievable again." })
  apiKey!: string;

  @Field(() => String, { description: "The key's first characters, to recognise it later." })
  keyPrefix!: string;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType("TenantPipelineStep", { simpleResolvers: true, description: "One of the nine steps of a tenant's provisioning pipeline." })
export class TenantPipelineStepType {
  @Field(() => String, { description: "`step_1` … `step_9`." })
  name!: string;

  @Field(() => String, { description: "What the step does." })
  title!: string;

  @Field(() => Int)
  position!: number;

  @Field(() => String, { description: "The workflow step's status (PENDING, RUNNING, COMPLETED, FAILED, …)." })
  status!: string;

  @Field(() => Int)
  attempt!: number;

  @Field(() => String, { nullable: true })
  error!: string | null;
}

@ObjectType("TenantProvisioningEvent", { simpleResolvers: true,
  description:
    "A change of a tenant's provisioning: every step change of its pipeline, and its deprovisioning. Carries the whole pipeline, so any one event is enough to draw it.",
})
export class TenantProvisioningEventType {
  @Field(() => SafeIntResolver, { description: "Event sequence; resubscribe with `since` to get what was missed." })
  sequence!: number;

  @Field(() => Date)
  occurredAt!: Date;

  @Field(() => String, {
    description:
      "`tenant.snapshot` (the first event: the state when subscribing), `tenant.provisioning_changed` or `tenant.deprovisioned`.",
  })
  type!: string;

  @Field(() => TenantStatusType)
  tenant!: TenantStatusType;

  @Field(() => ID, { nullable: true })
  workflowId!: string | null;

  @Field(() => String, { nullable: true })
  workflowStatus!: string | null;

  @Field(() => [TenantPipelineStepType])
  steps!: TenantPipelineStepType[];
}

@InputType("CreateTenantInput")
export class CreateTenantInputType {
  @Field(() => String, { description: "3–40 characters, `^[a-z][a-z0-9-]*[a-z0-9]$`; names the tenant's schemas." })
  slug!: string;

  @Field(() => String, { description: "Display name, 1–200 characters." })
  name!: string;
}

export function toTenantProvisioningEvent(event: StoredEvent): TenantProvisioningEventType {
  const payload = event.payload as TenantEventPayload;
  return {
    sequence: event.sequence,
    occurredAt: event.occurredAt,
    type: event.type,
    tenant: {
      ...payload.tenant,
      provisioningState: payload.tenant.provisioningState as ProvisioningState,
      updatedAt: new Date(payload.tenant.updatedAt),
    },
    workflowId: payload.workflowId,
    workflowStatus: payload.workflowStatus,
    steps: payload.steps.map((s) => ({ ...s, title: TENANT_STEP_TITLES[s.name] ?? s.name })),
  };
}
