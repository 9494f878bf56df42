/**
 * The GraphQL face of connectors. `Connector` here is its own class, built field by field from the
 * entity: the tap config and the webhook secret have no field, so exposing one is a deliberate act.
 */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { GraphQLJSONObject, SafeIntResolver } from "graphql-scalars";
import { ConnectorStatus, ConnectorType } from "../../entities/connector/connector.entity.js";
import { connectorLoaders, type ConnectorView } from "../../src/connectors/queries.js";
import type { RunView } from "../../src/connectors/runs.js";
import type { Context } from "../../src/context.js";
import type { FieldMapping } from "../../entities/connector/field-mapping.entity.js";
import { ConnectionType } from "../common/relay.js";
import { ConnectorRunType, toRunType } from "../run/run.types.js";

registerEnumType(ConnectorType, { name: "ConnectorType" });
registerEnumType(ConnectorStatus, {
  name: "ConnectorStatus",
  description: "ACTIVE runs on schedule; PAUSED by a user; ERROR after 3 consecutive failed runs (resume re-arms).",
});

@ObjectType("Connector", { simpleResolvers: true, description: "An ELT connector: a Singer tap on a schedule, loading into the lakehouse." })
export class ConnectorType_ {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  sourceSystem!: string;

  @Field(() => String)
  tapName!: string;

  @Field(() => ConnectorType)
  connectorType!: ConnectorType;

  @Field(() => String)
  destinationCatalog!: string;

  @Field(() => String)
  destinationTable!: string;

  @Field(() => String)
  lakehouseNamespace!: string;

  @Field(() => String, { description: "Cron expression (UTC)." })
  syncSchedule!: string;

  @Field(() => String, { nullable: true })
  tapVersion!: string | null;

  @Field(() => String)
  meltanoEnvironment!: string;

  @Field(() => ConnectorStatus)
  status!: ConnectorStatus;

  @Field(() => Int)
  consecutiveFailures!: number;

  @Field(() => SafeIntResolver)
  rowsTotal!: number;

  @Field(() => Date, { nullable: true })
  lastSyncedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  nextRunAt!: Date | null;

  @Field(() => Boolean, { description: "Whether a tap config is stored (it is write-only)." })
  hasConfig!: boolean;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;

  /**
   * The list reads it with the page (a value); elsewhere it is `loadLastRun`, which graphql-js's
   * default resolver calls with (args, context) — batched per request. No type-graphql field
   * resolver: its wrapper (instance lookup, parameter sorting) ran once per node of the hot list.
   */
  @Field(() => ConnectorRunType, { nullable: true, description: "The most recent run (last-run summary)." })
  lastRun!: ConnectorRunType | null | typeof loadLastRun;

  // Resolved in ConnectorResolver (batched): mappingCount, runCount, totalRowsLoaded, tapState,
  // fieldMappings.

  @Field(() => Int)
  mappingCount?: number;

  @Field(() => Int)
  runCount?: number;

  @Field(() => SafeIntResolver)
  totalRowsLoaded?: number;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Committed Singer STATE (bookmarks); null before the first load." })
  tapState?: Record<string, unknown> | null;
}

/** `lastRun` of a node read without it: the request's batch loader (see the field). */
function loadLastRun(this: ConnectorType_, _args: unknown, ctx: Context): Promise<ConnectorRunType | null> {
  return connectorLoaders(ctx.em).lastRun.load(this.id).then((run) => (run ? toRunType(run) : null));
}

/**
 * Field by field into a fresh instance (the field resolvers' `@Root` wants the class; anything
 * else is copied into one per call). `lastRun`: the list passes the one it read.
 */
export function toConnectorType(c: ConnectorView, lastRun?: RunView | null): ConnectorType_ {
  const out = new ConnectorType_();
  out.id = c.id;
  out.sourceSystem = c.sourceSystem;
  out.tapName = c.tapName;
  out.connectorType = c.connectorType;
  out.destinationCatalog = c.destinationCatalog;
  out.destinationTable = c.destinationTable;
  out.lakehouseNamespace = c.lakehouseNamespace;
  out.syncSchedule = c.syncSchedule;
  out.tapVersion = c.tapVersion;
  out.meltanoEnvironment = c.meltanoEnvironment;
  out.status = c.status;
  out.consecutiveFailures = c.consecutiveFailures;
  out.rowsTotal = c.rowsTotal;
  out.lastSyncedAt = c.lastSyncedAt;
  out.nextRunAt = c.nextRunAt;
  out.hasConfig = c.configSource !== null;
  out.createdAt = c.createdAt;
  out.updatedAt = c.updatedAt;
  out.lastRun = lastRun === undefined ? loadLastRun : lastRun && toRunType(lastRun);
  return out;
}

export const ConnectorConnection = ConnectionType("Connector", ConnectorType_);

@ObjectType("FieldMapping", { simpleResolvers: true, description: "Maps a staged field to a destination column, optionally through a CEL transform." })
export class FieldMappingType {
  @Field(() => String)
  stream!: string;

  @Field(() => String)
  sourceField!: string;

  @Field(() => String)
  destinationColumn!: string;

  @Field(() => String, { nullable: true, description: "CEL expression over the staged record `row`, e.g. `row.amount * 100`." })
  transform!: string | null;

  @Field(() => String, { nullable: true })
  dataType!: string | null;

  @Field(() => Boolean)
  isKey!: boolean;
}

export function toFieldMappingType(m: FieldMapping): FieldMappingType {
  return {
    stream: m.stream,
    sourceField: m.sourceField,
    destinationColumn: m.destinationColumn,
    transform: m.transform,
    dataType: m.dataType,
    isKey: m.isKey,
  };
}

@InputType("RegisterConnectorInput")
export class RegisterConnectorInputType {
  @Field(() => String, { description: "Source system name, e.g. `salesforce` (names the staging schema)." })
  sourceSystem!: string;

  @Field(() => String, { description: "Singer tap executable, e.g. `tap-postgres`." })
  tapName!: string;

  @Field(() => ConnectorType, { nullable: true, defaultValue: ConnectorType.MELTANO })
  connectorType?: ConnectorType;

  @Field(() => String, { nullable: true, defaultValue: "lakehouse", description: "An ACTIVE catalog of your tenant." })
  destinationCatalog?: string;

  @Field(() => String)
  destinationTable!: string;

  @Field(() => String, { nullable: true, defaultValue: "0 2 * * *", description: "Cron expression (UTC)." })
  syncSchedule?: string;

  @Field(() => String, { nullable: true })
  tapVersion?: string | null;

  @Field(() => String, { nullable: true, defaultValue: "prod" })
  meltanoEnvironment?: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Tap config; encrypted at rest, never returned." })
  config?: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: "Tap config sealed client-side (`gantry encrypt-config`, docs/SECRETS.md)." })
  configEncrypted?: string | null;
}

@ObjectType("RegisterConnectorPayload", { simpleResolvers: true })
export class RegisterConnectorPayload {
  @Field(() => ConnectorType_)
  connector!: ConnectorType_;

  @Field(() => String, { description: "Standard Webhooks secret (`whsec_…`). Shown only in this response." })
  webhookSecret!: string;

  @Field(() => String, { description: "Where the runner reports finished runs." })
  webhookUrl!: string;
}

@ObjectType("TriggerConnectorSyncPayload", { simpleResolvers: true })
export class TriggerSyncPayload {
  @Field(() => String, { description: "Always `queued`." })
  status!: string;

  @Field(() => String)
  message!: string;

  @Field(() => ConnectorType_)
  connector!: ConnectorType_;
}

@ObjectType("DeleteConnectorPayload", { simpleResolvers: true })
export class DeleteConnectorPayload {
  @Field(() => ID)
  id!: string;

  @Field(() => Boolean)
  deleted!: boolean;
}

@InputType("FieldMappingInput")
export class FieldMappingInputType {
  @Field(() => String)
  stream!: string;

  @Field(() => String)
  sourceField!: string;

  @Field(() => String)
  destinationColumn!: string;

  @Field(() => String, { nullable: true })
  transform?: string | null;

  @Field(() => String, { nullable: true })
  dataType?: string | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  isKey?: boolean;
}
