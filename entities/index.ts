/** Every entity class, listed once: MikroORM discovers them from here (no folder globbing). */
import { Catalog } from "./catalog/catalog.entity.js";
import { Tenant } from "./tenant/tenant.entity.js";
import { CONNECTOR_ENTITIES } from "./connector/index.js";

export const ALL_ENTITIES = [Tenant, Catalog, ...CONNECTOR_ENTITIES];
