import { Field, Float, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { SafeIntResolver } from "graphql-scalars";
import { RunStatus, RunTrigger } from "../../entities/connector/run.entity.js";
import { durationSeconds, type RunView } from "../../src/connectors/runs.js";

registerEnumType(RunStatus, {
  name: "RunStatus",
  description: "QUEUED → RUNNING → LOADING → COMPLETED | FAILED (or CANCELLED); one in flight per connector.",
});
registerEnumType(RunTrigger, { name: "RunTrigger", description: "What queued the run: its cron schedule or a manual trigger." });

@ObjectType("ConnectorRun", { simpleResolvers: true, description: "One sync of a connector." })
export class ConnectorRunType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  connectorId!: string;

  @Field(() => RunStatus)
  status!: RunStatus;

  @Field(() => RunTrigger)
  trigger!: RunTrigger;

  @Field(() => SafeIntResolver, { nullable: true, description: "Records the tap emitted (from the runner's report)." })
  rowsSynced!: number | null;

  @Field(() => SafeIntResolver, { nullable: true, description: "Rows upserted into the destination table." })
  rowsLoaded!: number | null;

  @Field(() => Int, { description: "Rows whose transform failed (not loaded)." })
  transformErrors!: number;

  @Field(() => String, { nullable: true, description: "`<lakehouseNamespace>.<destinationTable>`." })
  lakehouseTable!: string | null;

  @Field(() => Date)
  queuedAt!: Date;

  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  completedAt!: Date | null;

  @Field(() => Float, { nullable: true, description: "Seconds from start (or queueing) to completion." })
  durationS!: number | null;

  @Field(() => String, { nullable: true })
  errorMsg!: string | null;
}

export function toRunType(run: RunView): ConnectorRunType {
  return {
    id: run.id,
    connectorId: run.connectorId,
    status: run.status,
    trigger: run.trigger,
    rowsSynced: run.rowsSynced,
    rowsLoaded: run.rowsLoaded,
    transformErrors: run.transformErrors,
    lakehouseTable: run.lakehouseTable,
    queuedAt: run.queuedAt,
    startedAt: run.startedAt,
    completedAt: run.completedAt,
    durationS: durationSeconds(run),
    errorMsg: run.errorMsg,
  };
}

@ObjectType("ConnectorRunEvent", { simpleResolvers: true, description: "A change of one of a connector's runs." })
export class ConnectorRunEventType {
  @Field(() => SafeIntResolver, { description: "Global event sequence; reconnect with `since` to resume." })
  sequence!: number;

  @Field(() => Date)
  occurredAt!: Date;

  @Field(() => String, { description: "`run.queued`, `run.running`, `run.loading`, `run.completed`, `run.failed`, …" })
  type!: string;

  @Field(() => ConnectorRunType)
  run!: ConnectorRunType;
}
