import { Entity, Filter, Index, ManyToOne, OneToOne, Property, OptionalProps, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { ConnectorRun } from "../connector/run.entity.js";

/**
 * A runner's lease on a run it is executing. `attempt` only grows: a runner whose lease expired
 * (crashed, partitioned) cannot renew it or report under the old attempt, and the run is
 * claimed again by another runner as the next attempt.
 */
@Entity({ tableName: "connector_run_claim" })
@Index({ properties: ["leaseExpiresAt"] })
@Filter(tenantFilter)
export class RunClaim {
  [OptionalProps]?: "claimedAt";

  @OneToOne(() => ConnectorRun, { primary: true, ref: true, deleteRule: "cascade", owner: true })
  run!: Ref<ConnectorRun>;

  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  @Property({ type: "integer" })
  attempt!: number;

  /** The runner process holding the lease. */
  @Property({ type: "text" })
  runner!: string;

  @Property({ type: "datetime", length: 3 })
  leaseExpiresAt!: Date;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  claimedAt: Date = new Date();
}
