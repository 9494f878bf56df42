import { Entity, Index, ManyToOne, PrimaryKey, Property, type Ref } from "@mikro-orm/core";
import { WorkflowStep } from "./workflow-step.entity.js";

/**
 * A callback step's token, stored only as its SHA-256. Bound to one attempt of one step, single
 * use, expiring; a retry issues a new one. Kept after use so a second use gets a clear answer.
 * System-only (the REST shim resolves it before any tenant is known), so no tenant filter.
 */
@Entity({ tableName: "workflow_callback_token" })
@Index({ properties: ["step"] })
export class WorkflowCallbackToken {
  @PrimaryKey({ type: "text" })
  tokenHash!: string;

  @ManyToOne(() => WorkflowStep, { ref: true, deleteRule: "cascade" })
  step!: Ref<WorkflowStep>;

  @Property({ type: "integer" })
  attempt!: number;

  @Property({ type: "datetime", length: 3 })
  expiresAt!: Date;

  @Property({ type: "datetime", length: 3, nullable: true })
  usedAt: Date | null = null;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  createdAt: Date = new Date();
}
