import { Entity, Filter, OneToOne, Property, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "./tenant.entity.js";

/** A tenant's defaults, seeded by step 8 of the provisioning pipeline (one row per tenant). */
@Entity({ tableName: "tenant_settings" })
@Filter(tenantFilter)
export class TenantSettings {
  @OneToOne(() => Tenant, { primary: true, ref: true, owner: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  /** IANA time zone the tenant's schedules and reports are shown in. */
  @Property({ type: "text", defaultRaw: "'UTC'" })
  timezone: string = "UTC";

  /** Cron schedule a new connector gets when none is given. */
  @Property({ type: "text", defaultRaw: "'0 2 * * *'" })
  defaultSyncSchedule: string = "0 2 * * *";

  /** Days of run history kept. */
  @Property({ type: "integer", defaultRaw: "90" })
  runRetentionDays: number = 90;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  createdAt: Date = new Date();
}
