/**
 * Step 9: the tenant becomes ACTIVE (its credentials and tokens are honoured from now on). Never
 * resurrects a DEPROVISIONED tenant. The compensation puts an ACTIVE tenant back to PROVISIONING.
 */
import { inTransaction } from "./sql.js";
import { StepFailure, type StepDeps, type TenantRef, type TenantStep } from "./types.js";
import { TENANT_STEP_TITLES } from "../step-names.js";

export const activateStep: TenantStep = {
  name: "step_9",
  title: TENANT_STEP_TITLES.step_9!,
  async run(deps: StepDeps, tenant: TenantRef) {
    const rows = await inTransaction(deps, (em) =>
      em.execute<{ id: string }[]>(
        `update tenant set provisioning_state = 'ACTIVE', updated_at = now()
          where id = ? and provisioning_state <> 'DEPROVISIONED' returning id`,
        [tenant.id],
      ),
    );
    if (rows.length === 0) throw new StepFailure(`tenant ${tenant.slug} is missing or deprovisioned`);
    return { provisioningState: "ACTIVE" };
  },
  async compensate(deps: StepDeps, tenant: TenantRef) {
    await inTransaction(deps, (em) =>
      em.execute(
        `update tenant set provisioning_state = 'PROVISIONING', updated_at = now() where id = ? and provisioning_state = 'ACTIVE'`,
        [tenant.id],
      ),
    );
  },
};
