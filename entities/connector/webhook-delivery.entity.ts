import { Entity, Filter, ManyToOne, PrimaryKey, Property, OptionalProps, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { Connector } from "./connector.entity.js";

/**
 * A webhook delivery that had an effect, keyed by its `webhook-id` per connector, with the answer
 * given: a replay gets the same answer and no second effect.
 */
@Entity({ tableName: "connector_webhook_delivery" })
@Filter(tenantFilter)
export class WebhookDelivery {
  [OptionalProps]?: "receivedAt";

  @ManyToOne(() => Connector, { primary: true, ref: true, deleteRule: "cascade" })
  connector!: Ref<Connector>;

  @PrimaryKey({ type: "text" })
  webhookId!: string;

  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  @Property({ type: "integer" })
  responseStatus!: number;

  @Property({ type: "json" })
  responseData!: Record<string, unknown>;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  receivedAt: Date = new Date();
}
