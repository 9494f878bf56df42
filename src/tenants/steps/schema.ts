/** Step 2: the tenant's own PostgreSQL schema, `tenant_<slug>`; the compensation drops it. */
import { tenantSchemaName } from "../naming.js";
import { dropOwnedSchema, ensureOwnedSchema, inTransaction } from "./sql.js";
import type { StepDeps, TenantRef, TenantStep } from "./types.js";
import { TENANT_STEP_TITLES } from "../step-names.js";

export const schemaStep: TenantStep = {
  name: "step_2",
  title: TENANT_STEP_TITLES.step_2!,
  async run(deps: StepDeps, tenant: TenantRef) {
    const schema = tenantSchemaName(tenant.slug);
    const outcome = await inTransaction(deps, (em) => ensureOwnedSchema(em, schema, tenant.id));
    return { schema, outcome };
  },
  async compensate(deps: StepDeps, tenant: TenantRef) {
    const schema = tenantSchemaName(tenant.slug);
    await inTransaction(deps, (em) => dropOwnedSchema(em, schema, tenant.id));
  },
};
