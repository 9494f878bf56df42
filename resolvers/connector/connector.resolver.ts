import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { requireTenant, type Context } from "../../src/context.js";
import { deleteConnector, getConnector, registerConnector, setFieldMappings } from "../../src/connectors/registry.js";
import { pauseConnector, resumeConnector, triggerConnectorSync } from "../../src/connectors/operations.js";
import { connectorLoaders, listConnectors, listFieldMappings } from "../../src/connectors/queries.js";
import { WEBHOOK_PATH } from "../../src/connectors/webhook.js";
import { decodeCursor, pageSize, PageArgs, toConnection } from "../common/relay.js";
import { TENANT } from "../common/auth.js";
import { ConnectorRunType, toRunType } from "../run/run.types.js";
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

@Resolver(() => ConnectorType_)
export class ConnectorResolver {
  @Authorized(TENANT)
  @Query(() => ConnectorConnection, { description: "Your connectors, newest first, each with its last-run summary." })
  async connectors(@Args(() => PageArgs) { first, after }: PageArgs, @Ctx() ctx: Context) {
    const size = pageSize(first);
    const cursor = after ? decodeCursor(after) : undefined;
    // One statement for the page and each node's last run (the summary is what a list is for),
    // so `lastRun` resolves from the node without a promise per node.
    const rows = await listConnectors(ctx.em, { size, after: cursor });
    const nodes = rows.slice(0, size).map((row) => {
      const node = toConnectorType(row);
      node.lastRun = row.lastRun ? toRunType(row.lastRun) : null;
      return node;
    });
    return toConnection(rows.length > size ? [...nodes, toConnectorType(rows[size]!)] : nodes, size, (c) => ({ key: c.createdAt.toISOString(), id: c.id }), !!cursor);
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

  @FieldResolver(() => ConnectorRunType, { nullable: true })
  lastRun(@Root() c: ConnectorType_, @Ctx() ctx: Context): ConnectorRunType | null | Promise<ConnectorRunType | null> {
    if (c.lastRun !== undefined) return c.lastRun;
    return connectorLoaders(ctx.em).lastRun.load(c.id).then((run) => (run ? toRunType(run) : null));
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
