/**
 * The GraphQL HTTP endpoint: Apollo Server 5 on express 5. GraphQL-over-HTTP as the spec asks
 * (`application/graphql-response+json` when accepted, 4xx for request errors, GET for queries
 * only, CSRF prevention), graphql-armor limits (depth, cost, aliases, directives, tokens), the
 * error boundary, request ids and per-operation metrics.
 */
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import type { GraphQLArmorConfig } from "@escape.tech/graphql-armor-types";
import type { GraphQLSchema } from "graphql";
import type { Server } from "node:http";
import type { Context } from "../context.js";
import type { AppServices } from "../app-services.js";
import { ApiError, createFormatError, isUnexpected, stampRequestId } from "./errors.js";
import { NUL_MESSAGE, operationNulPath } from "./input-guard.js";
import { ErrorCode } from "../errors/index.js";
import { unwrapResolverError } from "@apollo/server/errors";

/** Limits applied to every operation, over HTTP and graphql-ws alike. */
export const MAX_TOKENS = 2000;

export const ARMOR_CONFIG: GraphQLArmorConfig = {
  maxDepth: { n: 10, flattenFragments: true },
  costLimit: { maxCost: 5000, objectCost: 2, scalarCost: 1, depthCostFactor: 1.5 },
  maxAliases: { n: 20 },
  maxDirectives: { n: 20 },
  // Enforced by the parser itself (`parseOptions` below, and in graphql-ws): armor's plugin turns
  // every syntax error into a 500.
  maxTokens: { enabled: false },
  blockFieldSuggestion: { enabled: false },
};

export function createArmor(production: boolean) {
  return new ApolloArmor({ ...ARMOR_CONFIG, blockFieldSuggestion: { enabled: production } }).protect();
}

/** Refuses U+0000 in inline literals and variables before anything runs (see input-guard.ts). */
function nulGuardPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request }) {
          const at = operationNulPath(document, request.variables);
          if (at) throw new ApiError(ErrorCode.BAD_USER_INPUT, `${at}: ${NUL_MESSAGE}`, { field: at, http: { status: 400 } });
        },
      };
    },
  };
}

/** Logs unexpected errors with the request id and stamps the id on their masked answers. */
function requestIdPlugin(app: AppServices): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            if (!isUnexpected(error)) continue;
            app.log.error({ err: unwrapResolverError(error), requestId: contextValue.requestId, path: error.path }, "unexpected error in GraphQL operation");
          }
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind === "single" && response.body.singleResult.errors) {
            response.body.singleResult.errors = stampRequestId(response.body.singleResult.errors, contextValue.requestId);
          }
        },
      };
    },
  };
}

function metricsPlugin(app: AppServices): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ operationName, operation, errors, response }) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const outcome = errors?.length || (response.body.kind === "single" && response.body.singleResult.errors) ? "error" : "ok";
          app.metrics.operationDuration.observe(
            { operation: operationName ?? "anonymous", type: operation?.operation ?? "unknown", outcome },
            seconds,
          );
          if (response.body.kind === "single") {
            for (const err of response.body.singleResult.errors ?? []) {
              app.metrics.errors.inc({ code: String(err.extensions?.code ?? "UNKNOWN") });
            }
          }
        },
      };
    },
  };
}

export function createApollo(app: AppServices, schema: GraphQLSchema, httpServer: Server): ApolloServer<Context> {
  const armor = createArmor(app.config.production);
  const formatError = createFormatError(app.log);
  return new ApolloServer<Context>({
    schema,
    introspection: app.config.graphiql,
    csrfPrevention: true,
    parseOptions: { maxTokens: MAX_TOKENS },
    allowBatchedHttpRequests: false,
    // main.ts owns SIGTERM/SIGINT and stops everything in order. Apollo's own handlers (on unless
    // NODE_ENV=test) would stop the server behind our back and re-send the signal, which our
    // handler swallows: the process then sat out its 15 s shutdown limit and exited 1.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: app.config.production,
    validationRules: armor.validationRules,
    formatError: (formatted, error) => formatError(formatted, error),
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      ...(armor.plugins as ApolloServerPlugin<Context>[]),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Apollo's landing page loads from a CDN; the project's own GraphiQL is at /graphiql (src/http/web.ts).
      ApolloServerPluginLandingPageDisabled(),
      nulGuardPlugin(),
      metricsPlugin(app),
      requestIdPlugin(app),
    ],
    logger: {
      debug: (m) => app.log.debug(m),
      info: (m) => app.log.info(m),
      warn: (m) => app.log.warn(m),
      error: (m) => app.log.error(m),
    },
  });
}
