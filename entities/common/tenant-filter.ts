/**
 * The data-layer tenant filter. Every tenant-scoped entity carries `@Filter(tenantFilter)`; the
 * filter is on by default and has a required argument, so an EntityManager that nobody scoped
 * (neither to a tenant nor explicitly to "all tenants") fails loudly instead of leaking rows.
 * Request contexts scope it in `src/context.ts`; workers use `systemEm` in `src/db/orm.ts`.
 */
export const TENANT_FILTER = "tenant";

export interface TenantFilterArgs {
  /** The tenant whose rows are visible; `null` means every tenant (admin and system code only). */
  tenantId: string | null;
}

/** Filter for entities with a `tenant` relation. */
export const tenantFilter = {
  name: TENANT_FILTER,
  default: true,
  cond: (args: TenantFilterArgs) => (args.tenantId === null ? {} : { tenant: args.tenantId }),
};
