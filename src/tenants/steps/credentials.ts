/** Step 7: the tenant's API key (see `src/tenants/credentials.ts`); the compensation deletes it. */
import { issueTenantApiKey } from "../credentials.js";
import { inTransaction } from "./sql.js";
import { StepFailure, type StepDeps, type TenantRef, type TenantStep } from "./types.js";
import { TENANT_STEP_TITLES } from "../step-names.js";

export const credentialsStep: TenantStep = {
  name: "step_7",
  title: TENANT_STEP_TITLES.step_7!,
  async run(deps: StepDeps, tenant: TenantRef) {
    const masterKey = deps.config.masterKey;
    if (!masterKey) throw new StepFailure("GANTRY_MASTER_KEY is not configured");
    // The output names the key, never the key itself.
    return { ...(await inTransaction(deps, (em) => issueTenantApiKey(em, masterKey, tenant.id))) };
  },
  async compensate(deps: StepDeps, tenant: TenantRef) {
    await inTransaction(deps, (em) => em.execute(`delete from tenant_api_key where tenant_id = ?`, [tenant.id]));
  },
};
