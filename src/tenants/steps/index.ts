/** The nine steps of the tenant provisioning pipeline, in order (SPEC: "Tenants and the 9-step provisioning pipeline"). */
import { registerStep } from "./register.js";
import { schemaStep } from "./schema.js";
import { migrationsStep } from "./migrations.js";
import { catalogStep } from "./catalog.js";
import { namespaceStep } from "./namespace.js";
import { stagingStep } from "./staging.js";
import { credentialsStep } from "./credentials.js";
import { defaultsStep } from "./defaults.js";
import { activateStep } from "./activate.js";
import { validateSlug } from "../slug.js";
import { StepFailure, type StepDeps, type TenantRef, type TenantStep } from "./types.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Refuses a tenant whose id or slug is malformed before a step issues any SQL. */
export function checkTenantRef(tenant: TenantRef): TenantRef {
  if (!UUID.test(tenant.id)) throw new StepFailure("tenant id is not a uuid");
  validateSlug(tenant.slug);
  return tenant;
}

function guarded(step: TenantStep): TenantStep {
  return {
    name: step.name,
    title: step.title,
    run: async (deps: StepDeps, tenant: TenantRef) => step.run(deps, checkTenantRef(tenant)),
    compensate: async (deps: StepDeps, tenant: TenantRef) => step.compensate(deps, checkTenantRef(tenant)),
  };
}

export const TENANT_STEPS: readonly TenantStep[] = [
  registerStep,
  schemaStep,
  migrationsStep,
  catalogStep,
  namespaceStep,
  stagingStep,
  credentialsStep,
  defaultsStep,
  activateStep,
].map(guarded);

export { tenantIdentifiers } from "./register.js";
export { stagingBaseSchemaName } from "./staging.js";
export { loadTenantMigrations, bundledMigrationsDir } from "./migrations.js";
export { StepFailure, type StepDeps, type TenantRef, type TenantStep, type StepOutput } from "./types.js";
