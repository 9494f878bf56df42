import { randomUUID } from "node:crypto";
import { BigIntType, Entity, Enum, Filter, Index, ManyToOne, PrimaryKey, Property, OptionalProps, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "../tenant/tenant.entity.js";

export enum ConnectorType {
  MELTANO = "MELTANO",
  AIRBYTE = "AIRBYTE",
  FIVETRAN = "FIVETRAN",
  CUSTOM = "CUSTOM",
}

export enum ConnectorStatus {
  ACTIVE = "ACTIVE",
  PAUSED = "PAUSED",
  ERROR = "ERROR",
}

/** Where the tap config envelope came from: sealed by Gantry, or by the client for the runner. */
export enum ConfigSource {
  GANTRY = "GANTRY",
  CLIENT = "CLIENT",
}

/**
 * A tenant's ELT connector: a Singer tap on a cron schedule loading into a lakehouse table.
 * Holds two secrets (the tap config and the webhook secret), both as AES-256-GCM envelopes; this
 * class never reaches GraphQL (the API type is `resolvers/connector/connector.types.ts`).
 */
@Entity({ tableName: "connector" })
@Index({ properties: ["tenant", "createdAt", "id"] })
@Index({ properties: ["status", "nextRunAt"] })
@Filter(tenantFilter)
export class Connector {
  [OptionalProps]?: "connectorType" | "status" | "consecutiveFailures" | "rowsTotal" | "lastSyncedAt" | "nextRunAt" | "syncRequestedAt" | "tapVersion" | "configEnvelope" | "configSource" | "createdAt" | "updatedAt";

  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  tenant!: Ref<Tenant>;

  @Property({ type: "text" })
  sourceSystem!: string;

  @Property({ type: "text" })
  tapName!: string;

  @Enum({ items: () => ConnectorType })
  connectorType: ConnectorType = ConnectorType.MELTANO;

  @Property({ type: "text" })
  destinationCatalog!: string;

  @Property({ type: "text" })
  destinationTable!: string;

  @Property({ type: "text" })
  lakehouseNamespace!: string;

  @Property({ type: "text" })
  syncSchedule!: string;

  @Property({ type: "text", nullable: true })
  tapVersion: string | null = null;

  @Property({ type: "text" })
  meltanoEnvironment!: string;

  @Enum({ items: () => ConnectorStatus })
  status: ConnectorStatus = ConnectorStatus.ACTIVE;

  @Property({ type: "integer", defaultRaw: "0" })
  consecutiveFailures: number = 0;

  @Property({ type: new BigIntType("number"), defaultRaw: "0" })
  rowsTotal: number = 0;

  @Property({ type: "datetime", length: 3, nullable: true })
  lastSyncedAt: Date | null = null;

  @Property({ type: "datetime", length: 3, nullable: true })
  nextRunAt: Date | null = null;

  /** Set by a manual trigger until the scheduler queues the run (which is then MANUAL). */
  @Property({ type: "datetime", length: 3, nullable: true })
  syncRequestedAt: Date | null = null;

  /** AES-256-GCM envelope of the tap config JSON (never returned). */
  @Property({ type: "text", nullable: true, lazy: true })
  configEnvelope: string | null = null;

  @Enum({ items: () => ConfigSource, nullable: true })
  configSource: ConfigSource | null = null;

  /** AES-256-GCM envelope of the `whsec_…` webhook secret (never returned after registration). */
  @Property({ type: "text", lazy: true })
  webhookSecretEnvelope!: string;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  createdAt: Date = new Date();

  @Property({ type: "datetime", length: 3, defaultRaw: "now()", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
