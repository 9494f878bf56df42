/** Tenant reads. The EntityManager passed in is already scoped by the tenant filter. */
import type { EntityManager } from "../db/orm.js";
import { Tenant } from "../../entities/tenant/tenant.entity.js";
import { DomainError } from "../errors/index.js";
import { validateSlug } from "./slug.js";

export interface Page {
  size: number;
  after: { key: string; id: string } | undefined;
}

/** Tenants oldest first, keyset-paginated on (createdAt, id); fetches one extra row. */
export async function listTenants(em: EntityManager, page: Page): Promise<Tenant[]> {
  const where = page.after
    ? {
        $or: [
          { createdAt: { $gt: new Date(page.after.key) } },
          { createdAt: new Date(page.after.key), id: { $gt: page.after.id } },
        ],
      }
    : {};
  return em.find(Tenant, where, { orderBy: { createdAt: "asc", id: "asc" }, limit: page.size + 1 });
}

export async function getTenantBySlug(em: EntityManager, slug: string): Promise<Tenant> {
  validateSlug(slug);
  const tenant = await em.findOne(Tenant, { slug });
  if (!tenant) throw DomainError.notFound("Tenant", slug);
  return tenant;
}

export async function findTenantById(em: EntityManager, id: string): Promise<Tenant | null> {
  return em.findOne(Tenant, { id });
}
