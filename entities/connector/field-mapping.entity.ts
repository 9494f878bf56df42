import { randomUUID } from "node:crypto";
import { Entity, Filter, Index, ManyToOne, PrimaryKey, Property, OptionalProps, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { Connector } from "./connector.entity.js";

/** Maps one staged field of a stream to a destination column, optionally through a CEL transform. */
@Entity({ tableName: "connector_field_mapping" })
@Index({ properties: ["connector", "position"] })
@Filter(tenantFilter)
export class FieldMapping {
  [OptionalProps]?: "transform" | "dataType" | "isKey";

  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  @ManyToOne(() => Connector, { ref: true, deleteRule: "cascade" })
  connector!: Ref<Connector>;

  /** Order within the set, as given to `setFieldMappings`. */
  @Property({ type: "integer" })
  position!: number;

  @Property({ type: "text" })
  stream!: string;

  @Property({ type: "text" })
  sourceField!: string;

  @Property({ type: "text" })
  destinationColumn!: string;

  /** CEL expression over `row`; compiled (and refused if bad) at write time. */
  @Property({ type: "text", nullable: true })
  transform: string | null = null;

  @Property({ type: "text", nullable: true })
  dataType: string | null = null;

  @Property({ type: "boolean", defaultRaw: "false" })
  isKey: boolean = false;
}
