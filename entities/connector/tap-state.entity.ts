import { Entity, Filter, ManyToOne, OneToOne, Property, OptionalProps, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { Connector } from "./connector.entity.js";

/** A connector's committed Singer STATE (bookmarks); gone with the connector, so a re-register is a full load. */
@Entity({ tableName: "connector_tap_state" })
@Filter(tenantFilter)
export class TapState {
  [OptionalProps]?: "runId" | "updatedAt";

  @OneToOne(() => Connector, { primary: true, ref: true, deleteRule: "cascade", owner: true })
  connector!: Ref<Connector>;

  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  @Property({ type: "json" })
  state!: Record<string, unknown>;

  /** The run whose rows were loaded when this state was committed. */
  @Property({ type: "uuid", nullable: true })
  runId: string | null = null;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
