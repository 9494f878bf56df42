/**
 * Step 4: the tenant's `lakehouse` catalog, a row in `lakehouse.tenant_catalogs` (entity
 * `Catalog`). Connectors may load only into an ACTIVE catalog of their tenant. The compensation
 * deletes the row.
 */
import { LAKEHOUSE_CATALOG } from "../../../entities/catalog/catalog.entity.js";
import { inTransaction } from "./sql.js";
import type { StepDeps, TenantRef, TenantStep } from "./types.js";
import { TENANT_STEP_TITLES } from "../step-names.js";

export const catalogStep: TenantStep = {
  name: "step_4",
  title: TENANT_STEP_TITLES.step_4!,
  async run(deps: StepDeps, tenant: TenantRef) {
    return inTransaction(deps, async (em) => {
      const rows = await em.execute<{ id: string }[]>(
        `insert into lakehouse.tenant_catalogs (id, tenant_id, name, status, created_at, updated_at)
         values (gen_random_uuid(), ?, ?, 'ACTIVE', now(), now())
         on conflict (tenant_id, name) do update set status = 'ACTIVE', updated_at = now()
         returning id`,
        [tenant.id, LAKEHOUSE_CATALOG],
      );
      return { catalogId: rows[0]!.id, name: LAKEHOUSE_CATALOG };
    });
  },
  async compensate(deps: StepDeps, tenant: TenantRef) {
    await inTransaction(deps, (em) =>
      em.execute(`delete from lakehouse.tenant_catalogs where tenant_id = ? and name = ?`, [tenant.id, LAKEHOUSE_CATALOG]),
    );
  },
};
