import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Info, Mutation, Query, Resolver, Root } from "type-graphql";
import type { FieldNode, GraphQLResolveInfo } from "graphql";
import { requireTenant, type Context } from "../../src/context.js";
import { deleteConnector, getConnector, registerConnector, setFieldMappings } from "../../src/connectors/registry.js";
import { pauseConnector, resumeConnector, triggerConnectorSync } from "../../src/connectors/operations.js";
import { connectorLoaders, listFieldMappings } from "../../src/connectors/queries.js";
import { listConnectors, type ListProjection } from "../../src/connectors/list.js";
import { WEBHOOK_PATH } from "../../src/connectors/webhook.js";
import { decodeCursor, pageSize, PageArgs, toConnection } from "../common/relay.js";
import { TENANT } from "../common/auth.js";
import { connectionNodeSelection, perFieldNode, sub } from "../common/selection.js";
import {
  ConnectorConnection,
  ConnectorType_,
  DeleteConnectorPayload,
  FieldMappingInputType,
  FieldMappingType,
  RegisterConnectorInputType,
  RegisterConnectorPayload,
  toConnectorType,
  toFieldMappingType,
  TriggerSyncPayload,
} from "./connector.types.js";

/**
 * GraphQL fields of Connector and ConnectorRun → the view keys the list reads for them. Fields
 * resolved from the id alone (counts, tap state, mappings) need nothing; a field missing here is
 * passed through as is, and the list then reads every column (safe for fields added later).
 */
const CONNECTOR_FIELD_KEYS: Record<string, string[]> = {
  hasConfig: ["configSource"],
  mappingCount: [],
  runCount: [],
  totalRowsLoaded: [],
  tapState: [],
  fieldMappings: [],
  lastRun: [],
  __typename: [],
};
const RUN_FIELD_KEYS: Record<string, string[]> = { durationS: ["queuedAt", "startedAt", "completedAt"], __typename: [] };

function listProjection(info: GraphQLResolveInfo): ListProjection {
  const nodes = connectionNodeSelection(info);
  const run = sub(nodes, "lastRun", info);
  return {
    connector: [...nodes.keys()].flatMap((f) => CONNECTOR_FIELD_KEYS[f] ?? [f]),
    lastRun: run && [...run.keys()].flatMap((f) => RUN_FIELD_KEYS[f] ?? [f]),
  };
}

const projections = new WeakMap<FieldNode, ListProjection>();

@Resolver(() => ConnectorType_)
export class ConnectorResolver {
  @Authorized(TENANT)
  @Query(() => ConnectorConnection, { description: "Your connectors, newest first, each with its last-run summary." })
  async connectors(@Args(() => PageArgs) { first, after }: PageArgs, @Ctx() ctx: Context, @Info() info: GraphQLResolveInfo) {
    const size = pageSize(first);
    const cursor = after ? decodeCursor(after) : undefined;
    // One statement for the page and each node's last run (the summary is what a list is for),
    // reading only the columns asked for; `lastRun` then resolves from the node.
    const rows = await listConnectors(ctx.em, { size, after: cursor }, perFieldNode(projections, info, listProjection));
    return toConnection(rows.map((row) => toConnectorType(row, row.lastRun)), size, (c) => ({ key: c.createdAt.toISOString(), id: c.id }), !!cursor);
  }

  @Authorized(TENANT)
  @Query(() => ConnectorType_, { description: "One of your connectors (NOT_FOUND for any other id)." })
  async connector(@Arg("id", () => ID) id: string, @Ctx() ctx: Context): Promise<ConnectorType_> {
    return toConnectorType(await getConnector(ctx.em, id));
  }

  @Authorized(TENANT)
  @Mutation(() => RegisterConnectorPayload, {
    description: "Registers a connector; its first run is within 5 minutes. The webhook secret is shown only here.",
  })
  async registerConnector(
    @Arg("input", () => RegisterConnectorInputType) input: RegisterConnectorInputType,
    @Ctx() ctx: Context,
  ): Promise<RegisterConnectorPayload> {
    const tenantId = requireTenant(ctx);
    const { connector, webhookSecret } = await registerConnector(ctx.em, ctx.app.config, tenantId, input);
    return { connector: toConnectorType(connector), webhookSecret, webhookUrl: `${ctx.app.config.publicUrl}${WEBHOOK_PATH}` };
  }

  @Authorized(TENANT)
  @Mutation(() => TriggerSyncPayload, { description: "Queues a sync now (CONFLICT when PAUSED or in ERROR)." })
  async triggerConnectorSync(@Arg("id", () => ID) id: string, @Ctx() ctx: Context): Promise<TriggerSyncPayload> {
    const outcome = await triggerConnectorSync(ctx.em, id);
    return { status: outcome.status, message: outcome.message, connector: toConnectorType(outcome.connector) };
  }

  @Authorized(TENANT)
  @Mutation(() => ConnectorType_, { description: "Stops the schedule; a run in flight finishes." })
  async pauseConnector(@Arg("id", () => ID) id: string, @Ctx() ctx: Context): Promise<ConnectorType_> {
    return toConnectorType(await pauseConnector(ctx.em, id));
  }

  @Authorized(TENANT)
  @Mutation(() => ConnectorType_, { description: "Re-activates a PAUSED or ERROR connector at its next cron time." })
  async resumeConnector(@Arg("id", () => ID) id: string, @Ctx() ctx: Context): Promise<ConnectorType_> {
    return toConnectorType(await resumeConnector(ctx.em, id));
  }

  @Authorized(TENANT)
  @Mutation(() => DeleteConnectorPayload, { description: "Deletes the connector with its mappings, runs and tap state." })
  async deleteConnector(@Arg("id", () => ID) id: string, @Ctx() ctx: Context): Promise<DeleteConnectorPayload> {
    return { id: await deleteConnector(ctx.em, id), deleted: true };
  }

  @Authorized(TENANT)
  @Mutation(() => [FieldMappingType], { description: "Replaces the connector's field mappings (transforms compiled now)." })
  async setFieldMappings(
    @Arg("connectorId", () => ID) connectorId: string,
    @Arg("mappings", () => [FieldMappingInputType]) mappings: FieldMappingInputType[],
    @Ctx() ctx: Context,
  ): Promise<FieldMappingType[]> {
    return (await setFieldMappings(ctx.em, connectorId, mappings)).map(toFieldMappingType);
  }

  @FieldResolver(() => Number)
  async mappingCount(@Root() c: ConnectorType_, @Ctx() ctx: Context): Promise<number> {
    return (await connectorLoaders(ctx.em).stats.load(c.id)).mappingCount;
  }

  @FieldResolver(() => Number)
  async runCount(@Root() c: ConnectorType_, @Ctx() ctx: Context): Promise<number> {
    return (await connectorLoaders(ctx.em).stats.load(c.id)).runCount;
  }

  @FieldResolver(() => Number)
  async totalRowsLoaded(@Root() c: ConnectorType_, @Ctx() ctx: Context): Promise<number> {
    return (await connectorLoaders(ctx.em).stats.load(c.id)).totalRowsLoaded;
  }

  @FieldResolver(() => Object, { nullable: true })
  async tapState(@Root() c: ConnectorType_, @Ctx() ctx: Context): Promise<Record<string, unknown> | null> {
    return connectorLoaders(ctx.em).tapState.load(c.id);
  }

  @FieldResolver(() => [FieldMappingType], { description: "The field mappings, in order." })
  async fieldMappings(@Root() c: ConnectorType_, @Ctx() ctx: Context): Promise<FieldMappingType[]> {
    return (await listFieldMappings(ctx.em, c.id)).map(toFieldMappingType);
  }
}
