/** Every entity class, listed once: MikroORM discovers them from here (no folder globbing). */
import { Tenant } from "./tenant/tenant.entity.js";

export const ALL_ENTITIES = [Tenant];
