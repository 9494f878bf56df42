/**
 * Destination catalogs: a connector may only load into an ACTIVE catalog of its own tenant
 * (`lakehouse.tenant_catalogs`, filled by step 4 of the tenant pipeline).
 */
import type { EntityManager } from "../db/orm.js";
import { exec } from "./sql/exec.js";

export async function isActiveCatalog(em: EntityManager, tenantId: string, name: string): Promise<boolean> {
  const rows = await exec(
    em,
    `select 1 from lakehouse.tenant_catalogs where tenant_id = ? and name = ? and status = 'ACTIVE' limit 1`,
    [tenantId, name],
  );
  return rows.length > 0;
}
