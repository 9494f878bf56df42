/** Every resolver class, listed once, and the schema built from them. */
import "reflect-metadata";
import { buildSchema, type NonEmptyArray } from "type-graphql";
import type { GraphQLSchema } from "graphql";
import { authChecker } from "./common/auth.js";
import { TenantResolver } from "./tenant/tenant.resolver.js";
import { ViewerResolver } from "./viewer/viewer.resolver.js";
import { ConnectorResolver } from "./connector/connector.resolver.js";
import { RunResolver } from "./run/run.resolver.js";

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const RESOLVERS: NonEmptyArray<Function> = [ViewerResolver, TenantResolver, ConnectorResolver, RunResolver];

export async function buildGantrySchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    authChecker,
    authMode: "error",
    validate: false,
    emitSchemaFile: false,
    // Subscriptions read the event bus through `subscribe:` (app.events); type-graphql's topic
    // PubSub is unused but required once any subscription exists.
    pubSub: { publish: () => undefined, subscribe: () => { throw new Error("use subscribe: with app.events"); } },
  });
}
