import { randomUUID } from "node:crypto";
import { BigIntType, Entity, Enum, Filter, Index, ManyToOne, PrimaryKey, Property, Unique, OptionalProps, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "../tenant/tenant.entity.js";
import { Connector } from "./connector.entity.js";

/** QUEUED → RUNNING → LOADING → COMPLETED | FAILED (or CANCELLED). */
export enum RunStatus {
  QUEUED = "QUEUED",
  RUNNING = "RUNNING",
  LOADING = "LOADING",
  COMPLETED = "COMPLETED",
  FAILED = "FAILED",
  CANCELLED = "CANCELLED",
}

export const IN_FLIGHT_STATUSES = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.LOADING] as const;

export enum RunTrigger {
  SCHEDULE = "SCHEDULE",
  MANUAL = "MANUAL",
}

/**
 * One sync of a connector. A partial unique index (migration `connectors`) allows one in-flight
 * run per connector, whichever process inserts it.
 */
@Entity({ tableName: "connector_run" })
@Index({ properties: ["connector", "queuedAt", "id"] })
@Index({ properties: ["status", "deadlineAt"] })
@Unique({
  name: "connector_run_one_in_flight",
  expression: `create unique index "connector_run_one_in_flight" on "connector_run" ("connector_id") where "status" in ('QUEUED', 'RUNNING', 'LOADING')`,
})
@Filter(tenantFilter)
export class ConnectorRun {
  [OptionalProps]?: "status" | "trigger" | "rowsSynced" | "rowsLoaded" | "transformErrors" | "lakehouseTable" | "queuedAt" | "startedAt" | "completedAt" | "deadlineAt" | "errorMsg" | "reportedState";

  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  @ManyToOne(() => Connector, { ref: true, deleteRule: "cascade" })
  connector!: Ref<Connector>;

  @Enum({ items: () => RunStatus })
  status: RunStatus = RunStatus.QUEUED;

  @Enum({ items: () => RunTrigger })
  trigger: RunTrigger = RunTrigger.SCHEDULE;

  @Property({ type: new BigIntType("number"), nullable: true })
  rowsSynced: number | null = null;

  @Property({ type: new BigIntType("number"), nullable: true })
  rowsLoaded: number | null = null;

  @Property({ type: "integer", defaultRaw: "0" })
  transformErrors: number = 0;

  @Property({ type: "text", nullable: true })
  lakehouseTable: string | null = null;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  queuedAt: Date = new Date();

  @Property({ type: "datetime", length: 3, nullable: true })
  startedAt: Date | null = null;

  @Property({ type: "datetime", length: 3, nullable: true })
  completedAt: Date | null = null;

  /** A QUEUED or RUNNING run still unreported at this time is reaped as FAILED. */
  @Property({ type: "datetime", length: 3, nullable: true })
  deadlineAt: Date | null = null;

  @Property({ type: "text", nullable: true })
  errorMsg: string | null = null;

  /** The Singer STATE reported with a successful run, committed to tap state once loaded. */
  @Property({ type: "json", nullable: true })
  reportedState: Record<string, unknown> | null = null;
}
