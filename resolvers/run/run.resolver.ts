import { Arg, Authorized, Ctx, ID, Int, Query, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { SafeIntResolver } from "graphql-scalars";
import { requireTenant, type Context } from "../../src/context.js";
import { listConnectorRuns } from "../../src/connectors/queries.js";
import { getConnector } from "../../src/connectors/registry.js";
import { runFromPayload } from "../../src/connectors/runs.js";
import { connectorTopic, RUNS_DEFAULT_LIMIT, RUNS_MAX_LIMIT } from "../../src/connectors/types.js";
import type { StoredEvent } from "../../src/events/index.js";
import { TENANT } from "../common/auth.js";
import { ConnectorRunEventType, ConnectorRunType, toRunType } from "./run.types.js";

interface RunChangedArgs {
  connectorId: string;
  since?: number | null;
}

@Resolver(() => ConnectorRunType)
export class RunResolver {
  @Authorized(TENANT)
  @Query(() => [ConnectorRunType], { description: `A connector's runs, newest first (limit default ${RUNS_DEFAULT_LIMIT}, max ${RUNS_MAX_LIMIT}).` })
  async connectorRuns(
    @Arg("connectorId", () => ID) connectorId: string,
    @Arg("limit", () => Int, { nullable: true }) limit: number | null,
    @Ctx() ctx: Context,
  ): Promise<ConnectorRunType[]> {
    return (await listConnectorRuns(ctx.em, connectorId, limit)).map(toRunType);
  }

  @Authorized(TENANT)
  @Subscription(() => ConnectorRunEventType, {
    description: "Every change of this connector's runs, after it commits. Pass `since` (a sequence) to replay what you missed.",
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, RunChangedArgs, Context>) => {
      const tenantId = requireTenant(context);
      const connector = await getConnector(context.em, args.connectorId);
      return context.app.events.subscribe({ tenantId, topics: [connectorTopic(connector.id)] }, args.since ?? undefined);
    },
  })
  connectorRunChanged(
    @Root() event: StoredEvent,
    @Arg("connectorId", () => ID) _connectorId: string,
    @Arg("since", () => SafeIntResolver, { nullable: true }) _since: number | null,
  ): ConnectorRunEventType {
    const run = runFromPayload(event.payload);
    if (!run) throw new Error(`event ${event.sequence} carries no run`);
    return { sequence: event.sequence, occurredAt: event.occurredAt, type: event.type, run: toRunType(run) };
  }
}
