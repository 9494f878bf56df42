import { randomUUID } from "node:crypto";
import { Entity, Enum, Filter, Index, ManyToOne, PrimaryKey, Property, Unique, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { Workflow } from "./workflow.entity.js";
import { STEP_KINDS, STEP_STATUSES, type JsonObject, type StepKind, type StepStatus } from "../../src/engine/types.js";

/**
 * One step of a workflow, and its entry in the work queue: claimable once `dueAt` has passed.
 * Written by the engine's SQL (src/engine/sql); the ORM reads it. See the glossary in
 * src/engine/types.ts for attempt, lease and fencing.
 */
@Entity({ tableName: "workflow_step" })
@Unique({ properties: ["workflow", "position"] })
// Step names are unique per definition (defineWorkflow); no index for them: each index entry is
// work on every step transition (migration 20261123050000).
// The queue: only rows with a due time.
@Index({ name: "workflow_step_due_at_index", properties: ["dueAt"], expression: `create index "workflow_step_due_at_index" on "workflow_step" ("due_at") where "due_at" is not null` })
@Filter(tenantFilter)
export class WorkflowStep {
  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @ManyToOne(() => Workflow, { ref: true, deleteRule: "cascade" })
  workflow!: Ref<Workflow>;

  /** Denormalised from the workflow so the tenant filter applies to steps directly. */
  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  @Property({ type: "text" })
  name!: string;

  @Property({ type: "integer" })
  position!: number;

  @Enum({ items: [...STEP_KINDS] })
  kind!: StepKind;

  @Enum({ items: [...STEP_STATUSES] })
  status: StepStatus = "PENDING";

  @Property({ type: "integer", defaultRaw: "0" })
  attempt: number = 0;

  /** `attempt` when the current phase (first run, admin retry, compensation) began. */
  @Property({ type: "integer", defaultRaw: "0" })
  attemptBase: number = 0;

  @Property({ type: "integer", defaultRaw: "0" })
  retryCount: number = 0;

  @Property({ type: "integer" })
  maxAttempts!: number;

  /** When the step may be claimed next; null when nothing is due (finished or waiting on someone). */
  @Property({ type: "datetime", length: 3, nullable: true })
  dueAt: Date | null = null;

  @Property({ type: "datetime", length: 3, nullable: true })
  leasedUntil: Date | null = null;

  @Property({ type: "text", nullable: true })
  leaseOwner: string | null = null;

  @Property({ type: "datetime", length: 3, nullable: true })
  startedAt: Date | null = null;

  @Property({ type: "datetime", length: 3, nullable: true })
  completedAt: Date | null = null;

  @Property({ type: "datetime", length: 3, nullable: true })
  nextAttemptAt: Date | null = null;

  /** Poll steps: when waiting gives up. */
  @Property({ type: "datetime", length: 3, nullable: true })
  deadlineAt: Date | null = null;

  @Property({ type: "text", nullable: true })
  error: string | null = null;

  /** The step's result with secrets redacted (safe to show). */
  @Property({ type: "json", nullable: true })
  output: JsonObject | null = null;

  /** AES-256-GCM envelope of the secret part of the result (endpoint, credentials). */
  @Property({ type: "text", nullable: true })
  secretOutput: string | null = null;

  /** Internal state between executions (poll state, poll interval). */
  @Property({ type: "json", nullable: true })
  state: JsonObject | null = null;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  createdAt: Date = new Date();

  @Property({ type: "datetime", length: 3, defaultRaw: "now()", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
