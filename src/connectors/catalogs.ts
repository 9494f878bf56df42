/**
 * Destination catalogs: a connector may only load into an ACTIVE catalog of its own tenant
 * (`lakehouse.tenant_catalogs`, filled by step 4 of the tenant pipeline).
 */
import type { EntityManager } from "../db/orm.js";
import { Catalog, CatalogStatus } from "../../entities/catalog/catalog.entity.js";

/** `em` is the caller's tenant-scoped EntityManager: another tenant's catalog is simply not found. */
export async function isActiveCatalog(em: EntityManager, tenantId: string, name: string): Promise<boolean> {
  return (await em.count(Catalog, { tenant: tenantId, name, status: CatalogStatus.ACTIVE })) > 0;
}
