/**
 * Step 5: the tenant's lakehouse namespace `<prefix>_tenant_<slug>`: a PostgreSQL schema owned by
 * the tenant, or, when ICEBERG_CATALOG_URL is set, a namespace in that Iceberg REST catalog
 * (properties name the tenant). The compensation drops it (the catalog refuses a non-empty one).
 */
import { lakehouseNamespace } from "../naming.js";
import { createIcebergNamespace, dropIcebergNamespace } from "./iceberg.js";
import { dropOwnedSchema, ensureOwnedSchema, inTransaction } from "./sql.js";
import type { StepDeps, TenantRef, TenantStep } from "./types.js";
import { TENANT_STEP_TITLES } from "../step-names.js";

export const namespaceStep: TenantStep = {
  name: "step_5",
  title: TENANT_STEP_TITLES.step_5!,
  async run(deps: StepDeps, tenant: TenantRef) {
    const namespace = lakehouseNamespace(deps.config.namespacePrefix, tenant.slug);
    const url = deps.config.icebergCatalogUrl;
    if (url) {
      const outcome = await createIcebergNamespace(
        url,
        namespace,
        { "gantry.tenant-id": tenant.id, "gantry.tenant-slug": tenant.slug },
        deps.signal,
      );
      return { namespace, backend: "iceberg", outcome };
    }
    const outcome = await inTransaction(deps, (em) => ensureOwnedSchema(em, namespace, tenant.id));
    return { namespace, backend: "postgresql", outcome };
  },
  async compensate(deps: StepDeps, tenant: TenantRef) {
    const namespace = lakehouseNamespace(deps.config.namespacePrefix, tenant.slug);
    const url = deps.config.icebergCatalogUrl;
    if (url) await dropIcebergNamespace(url, namespace, deps.signal);
    else await inTransaction(deps, (em) => dropOwnedSchema(em, namespace, tenant.id));
  },
};
