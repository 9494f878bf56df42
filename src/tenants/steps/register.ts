/**
 * Step 1, register: the tenant row exists with this id, slug and name, and every identifier the
 * later steps derive from the slug is valid (so a slug whose namespace would exceed PostgreSQL's
 * 63-byte limit fails here, before anything is created). `createTenant` inserts the row in the
 * same transaction that starts the workflow, so in the pipeline this step finds it; run on its
 * own (tests, repair) it inserts it.
 */
import { validateSlug } from "../slug.js";
import { lakehouseNamespace, tenantSchemaName } from "../naming.js";
import { inTransaction } from "./sql.js";
import { stagingBaseSchemaName } from "./staging.js";
import { StepFailure, type StepDeps, type TenantRef, type TenantStep } from "./types.js";
import { TENANT_STEP_TITLES } from "../step-names.js";

/** Every identifier the pipeline derives from the slug; throws BAD_USER_INPUT naming the rule. */
export function tenantIdentifiers(prefix: string, slug: string) {
  validateSlug(slug);
  const names = {
    schema: tenantSchemaName(slug),
    namespace: lakehouseNamespace(prefix, slug),
    staging: stagingBaseSchemaName(prefix, slug),
  };
  return names;
}

export const registerStep: TenantStep = {
  name: "step_1",
  title: TENANT_STEP_TITLES.step_1!,
  async run(deps: StepDeps, tenant: TenantRef) {
    const identifiers = tenantIdentifiers(deps.config.namespacePrefix, tenant.slug);
    return inTransaction(deps, async (em) => {
      const inserted = await em.execute<{ id: string }[]>(
        `insert into tenant (id, slug, name) values (?, ?, ?) on conflict do nothing returning id`,
        [tenant.id, tenant.slug, tenant.name],
      );
      const rows = await em.execute<{ id: string }[]>(`select id from tenant where slug = ?`, [tenant.slug]);
      if (rows[0]?.id !== tenant.id) throw new StepFailure(`slug ${tenant.slug} belongs to another tenant`);
      return { tenantId: tenant.id, created: inserted.length === 1, ...identifiers };
    });
  },
  /**
   * Deletes the tenant row, unless a workflow references it: in the pipeline the row carries the
   * (rolled-back) workflow's history, which would go with it (cascade), so it stays as the record
   * and `createTenant` can start over on it. Run on its own (no workflow), the row goes.
   */
  async compensate(deps: StepDeps, tenant: TenantRef) {
    await inTransaction(deps, async (em) => {
      const hasWorkflows = await em.execute<{ found: boolean }[]>(
        `select to_regclass('public.workflow') is not null as found`,
      );
      const referenced =
        hasWorkflows[0]?.found === true &&
        (await em.execute<{ id: string }[]>(`select id from workflow where tenant_id = ? limit 1`, [tenant.id])).length > 0;
      if (referenced) return;
      await em.execute(`delete from tenant where id = ? and provisioning_state <> 'DEPROVISIONED'`, [tenant.id]);
    });
  },
};
