import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { ProvisioningState, type Tenant } from "../../entities/tenant/tenant.entity.js";
import { ConnectionType } from "../common/relay.js";

registerEnumType(ProvisioningState, {
  name: "ProvisioningState",
  description: "Where a tenant is in its lifecycle; a projection of its provisioning workflow.",
});

@ObjectType("Tenant", { description: "A tenant of the platform." })
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

@ObjectType("TenantStatus", { description: "The provisioning status of one tenant." })
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

@ObjectType("TenantCredentials", {
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
