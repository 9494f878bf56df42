/**
 * graphql-ws on the same HTTP server and path as GraphQL over HTTP. Credentials come in the
 * `connection_init` payload (`authorization` or `x-api-key`): none closes the socket with 4401,
 * bad ones with 4403. A token's expiry and its tenant's state are checked again on every subscribe,
 * and a tenant's open sockets are closed at its token's expiry (4401) or its deprovisioning (4403),
 * see ws-revocation.ts. Every operation gets its own context (and so its own EntityManager fork),
 * and the same limits and error boundary as HTTP.
 */
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import { GraphQLError, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema } from "graphql";
import { LRUCache } from "lru-cache";
import { WebSocketServer, type WebSocket } from "ws";
import { useServer } from "graphql-ws/use/ws";
import type { AppServices } from "../app-services.js";
import { createContext } from "../context.js";
import type { Viewer } from "../auth/viewer.js";
import { DomainError, ErrorCode } from "../errors/index.js";
import { createArmor, MAX_TOKENS } from "./graphql.js";
import { createFormatError } from "./errors.js";
import { NUL_MESSAGE, operationNulPath } from "./input-guard.js";
import { shareExecution, subscribeShared } from "./shared-execution.js";
import { CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, ConnectionRevoker } from "./ws-revocation.js";

type Extra = {
  viewer?: Viewer;
  connectionId?: string;
};

function param(params: Record<string, unknown> | undefined, ...names: string[]): string | undefined {
  if (!params) return undefined;
  for (const name of names) {
    const value = params[name];
    if (typeof value === "string" && value.trim()) return value;
  }
  return undefined;
}

/** A parsed and validated document, or the caller errors it gets. */
type Checked = { document: DocumentNode } | { errors: string[] };

/**
 * Documents by query text, parsed and validated once (as Apollo's document store does for HTTP):
 * a dashboard fleet sends one subscription document thousands of times, and each subscriber
 * keeping its own AST (tokens and locations included) was most of its memory and of the CPU a
 * reconnect storm costs. Bounded by entries and by the text's size; a document is immutable to
 * graphql-js, so subscribers share it.
 */
const DOCUMENT_CACHE_ENTRIES = 1000;
const DOCUMENT_CACHE_MAX_QUERY = 64 * 1024;

export interface WsHandle {
  wss: WebSocketServer;
  dispose(): Promise<void>;
}

export function attachGraphqlWs(app: AppServices, schema: GraphQLSchema, httpServer: Server, path: string): WsHandle {
  const wss = new WebSocketServer({ server: httpServer, path, maxPayload: 1024 * 1024 });
  const rules = [...specifiedRules, ...createArmor(app.config.production).validationRules];
  const formatError = createFormatError(app.log);
  const callerError = (message: string, code: ErrorCode = ErrorCode.BAD_USER_INPUT) =>
    new GraphQLError(message, { extensions: { code } });
  const documents = new LRUCache<string, Checked>({ max: DOCUMENT_CACHE_ENTRIES });
  const check = (query: string): Checked => {
    const cached = documents.get(query);
    if (cached) return cached;
    let checked: Checked;
    try {
      const document = parse(query, { maxTokens: MAX_TOKENS });
      const errors = validate(schema, document, rules);
      checked = errors.length > 0 ? { errors: errors.map((e) => e.message) } : { document };
    } catch (err) {
      checked = { errors: [err instanceof Error ? err.message : "Syntax error"] };
    }
    if (query.length <= DOCUMENT_CACHE_MAX_QUERY) documents.set(query, checked);
    return checked;
  };

  const revoker = new ConnectionRevoker(app.events, app.log, (viewer) => app.auth.revokedReason(viewer));
  wss.on("connection", (socket: WebSocket) => {
    app.metrics.websocketConnections.inc();
    socket.once("close", () => app.metrics.websocketConnections.dec());
  });

  const cleanup = useServer<Record<string, unknown> | undefined, Extra>(
    {
      schema,
      onConnect: async (ctx) => {
        const authorization = param(ctx.connectionParams, "authorization", "Authorization");
        const apiKey = param(ctx.connectionParams, "x-api-key", "X-API-Key", "apiKey");
        if (!authorization && !apiKey) {
          ctx.extra.socket.close(CLOSE_UNAUTHORIZED, "Unauthorized: no credentials in connection_init");
          return false;
        }
        try {
          const viewer = await app.auth.authenticate({ authorization, apiKey });
          Object.assign(ctx.extra, { viewer, connectionId: randomUUID() });
          revoker.track(ctx.extra.socket, viewer);
          // The upgrade request (headers and all) is not needed past this point; graphql-ws would
          // keep it for the connection's lifetime.
          delete (ctx.extra as { request?: unknown }).request;
          return true;
        } catch (err) {
          if (!(err instanceof DomainError)) app.log.error({ err }, "graphql-ws authentication failed");
          ctx.extra.socket.close(CLOSE_FORBIDDEN, "Forbidden: invalid credentials");
          return false;
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        const viewer = ctx.extra.viewer!;
        // The connection authenticated once; a token that expired or a tenant deprovisioned since must not act.
        const revoked = await app.auth.revokedReason(viewer);
        if (revoked) return [callerError(revoked, ErrorCode.UNAUTHENTICATED)];
        const checked = check(payload.query);
        if ("errors" in checked) return checked.errors.map((message) => callerError(message));
        const { document } = checked;
        const nulAt = operationNulPath(document, payload.variables);
        if (nulAt) return [callerError(`${nulAt}: ${NUL_MESSAGE}`)];
        const requestId = `${ctx.extra.connectionId}:${id}`;
        const contextValue = createContext(app, viewer, requestId);
        shareExecution(contextValue, viewer, { document, operationName: payload.operationName, variables: payload.variables }, {
          socket: ctx.extra.socket,
          id,
          formatErrors: (errors) => errors.map((e) => formatError(e.toJSON(), e, requestId)),
        });
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
      },
      // Each event executed once per (document, variables, visibility) and written to the
      // subscribers' sockets directly (src/http/shared-execution.ts).
      subscribe: subscribeShared,
      onNext: (_ctx, _id, _payload, args, result) => {
        if (!("errors" in result) || !result.errors?.length) return result;
        const requestId = (args.contextValue as { requestId?: string } | undefined)?.requestId;
        return { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e, requestId)) };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatError(e.toJSON(), e)),
    },
    wss,
    // graphql-ws pings every socket this often and drops one that does not answer within the same
    // time. Its default is 12 s; 30 s still keeps idle sockets alive through proxies with a 60 s
    // idle timeout (nginx, AWS ALB) and notices a dead peer within a minute, like Socket.IO
    // (25 + 20 s) and Phoenix (30 s), at less than half the cost: with 10,000 dashboards, the
    // 12 s pings and their pongs were ~15 % of the api process's CPU (bench/subscriptions.ts).
    app.config.wsKeepAliveMs,
  );

  return {
    wss,
    async dispose() {
      revoker.stop();
      await cleanup.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
