/** A tenant's lakehouse catalogs (step 4 registers `lakehouse`). `em` is tenant-scoped. */
import type { EntityManager } from "../db/orm.js";
import { Catalog } from "../../entities/catalog/catalog.entity.js";
import type { Page } from "./queries.js";

/** Catalogs by name, keyset-paginated on (name, id); fetches one extra row. */
export async function listCatalogs(em: EntityManager, page: Page): Promise<Catalog[]> {
  const where = page.after
    ? { $or: [{ name: { $gt: page.after.key } }, { name: page.after.key, id: { $gt: page.after.id } }] }
    : {};
  return em.find(Catalog, where, { orderBy: { name: "asc", id: "asc" }, limit: page.size + 1 });
}
