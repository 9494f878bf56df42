/** Every resolver class, listed once, and the schema built from them. */
import "reflect-metadata";
import { buildSchema, type NonEmptyArray } from "type-graphql";
import type { GraphQLSchema } from "graphql";
import { authChecker } from "./common/auth.js";
import { TenantResolver } from "./tenant/tenant.resolver.js";
import { CatalogResolver } from "./catalog/catalog.resolver.js";
import { ViewerResolver } from "./viewer/viewer.resolver.js";
import { WorkflowResolver } from "./workflow/workflow.resolver.js";
import { WorkflowSubscriptionResolver } from "./workflow/workflow-subscription.resolver.js";
import { ConnectorResolver } from "./connector/connector.resolver.js";
import { RunResolver } from "./run/run.resolver.js";

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const RESOLVERS: NonEmptyArray<Function> = [
  ViewerResolver,
  TenantResolver,
  CatalogResolver,
  WorkflowResolver,
  WorkflowSubscriptionResolver,
  ConnectorResolver,
  RunResolver,
];

export async function buildGantrySchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    authChecker,
    authMode: "error",
    validate: false,
    emitSchemaFile: false,
    // Every subscription brings its own `subscribe` (the event bus, src/events); type-graphql
    // insists on a PubSub anyway, so this one refuses to be used.
    pubSub: {
      publish: () => {
        throw new Error("use appendEvents (src/events), not type-graphql's PubSub");
      },
      subscribe: () => {
        throw new Error("subscriptions must pass `subscribe` (the event bus)");
      },
    },
  });
}
