import { randomUUID } from "node:crypto";
import { Entity, Enum, Filter, Index, ManyToOne, PrimaryKey, Property, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { WORKFLOW_STATUSES, type JsonObject, type WorkflowStatus } from "../../src/engine/types.js";

/** One run of a workflow definition for one tenant. Its steps are `WorkflowStep` rows. */
@Entity({ tableName: "workflow" })
@Index({ properties: ["createdAt", "id"] })
@Index({ properties: ["tenant", "createdAt", "id"] })
@Index({ properties: ["tenant", "serviceSlug", "createdAt"] })
@Filter(tenantFilter)
export class Workflow {
  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  @Property({ type: "text" })
  kind!: string;

  @Property({ type: "text", nullable: true })
  serviceSlug: string | null = null;

  @Enum({ items: [...WORKFLOW_STATUSES] })
  status: WorkflowStatus = "PENDING";

  @Property({ type: "json", defaultRaw: "'{}'" })
  input: JsonObject = {};

  @Property({ type: "text", nullable: true })
  error: string | null = null;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  createdAt: Date = new Date();

  @Property({ type: "datetime", length: 3, defaultRaw: "now()", onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Property({ type: "datetime", length: 3, nullable: true })
  completedAt: Date | null = null;
}
