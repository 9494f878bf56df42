/** Step 8: the tenant's default settings row (`tenant_settings`); the compensation deletes it. */
import { inTransaction } from "./sql.js";
import type { StepDeps, TenantRef, TenantStep } from "./types.js";
import { TENANT_STEP_TITLES } from "../step-names.js";

export const defaultsStep: TenantStep = {
  name: "step_8",
  title: TENANT_STEP_TITLES.step_8!,
  async run(deps: StepDeps, tenant: TenantRef) {
    const rows = await inTransaction(deps, (em) =>
      em.execute<{ tenant_id: string }[]>(
        `insert into tenant_settings (tenant_id) values (?) on conflict (tenant_id) do nothing returning tenant_id`,
        [tenant.id],
      ),
    );
    return { settings: rows.length === 1 ? "created" : "existed" };
  },
  async compensate(deps: StepDeps, tenant: TenantRef) {
    await inTransaction(deps, (em) => em.execute(`delete from tenant_settings where tenant_id = ?`, [tenant.id]));
  },
};
