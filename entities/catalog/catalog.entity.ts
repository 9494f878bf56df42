import { randomUUID } from "node:crypto";
import { Entity, Enum, Filter, ManyToOne, OptionalProps, PrimaryKey, Property, Unique, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "../tenant/tenant.entity.js";

export enum CatalogStatus {
  ACTIVE = "ACTIVE",
  INACTIVE = "INACTIVE",
}

/** The name step 4 of the tenant pipeline registers for every tenant. */
export const LAKEHOUSE_CATALOG = "lakehouse";

/** A tenant's lakehouse catalog; connectors load into ACTIVE ones of their own tenant. */
@Entity({ schema: "lakehouse", tableName: "tenant_catalogs" })
@Filter(tenantFilter)
@Unique({ properties: ["tenant", "name"] })
export class Catalog {
  [OptionalProps]?: "status" | "createdAt" | "updatedAt";

  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  @Property({ type: "text" })
  name!: string;

  @Enum({ items: () => CatalogStatus })
  status: CatalogStatus = CatalogStatus.ACTIVE;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  createdAt: Date = new Date();

  @Property({ type: "datetime", length: 3, defaultRaw: "now()", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
