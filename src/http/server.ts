/**
 * The api role's HTTP server: GraphQL (HTTP and graphql-ws) at `/graphql`, the REST shim, and
 * `/healthz`, `/readyz`, `/metrics`. Transport only: every decision lives in the domains.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import { expressMiddleware } from "@as-integrations/express5";
import type { GraphQLSchema } from "graphql";
import type { AppServices } from "../app-services.js";
import { createContext } from "../context.js";
import { DomainError } from "../errors/index.js";
import { pendingMigrations } from "../db/orm.js";
import { createApollo } from "./graphql.js";
import { attachGraphqlWs } from "./ws.js";
import { ApiError } from "./errors.js";
import type { RawRoute, RawRouteFactory, RestRouterFactory } from "./rest.js";

export const GRAPHQL_PATH = "/graphql";
export const BODY_LIMIT = "1mb";

export interface HttpServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** A readiness probe's database check gives up after this long (Kubernetes' default probe timeout is 1 s). */
const READY_TIMEOUT_MS = 1_000;

/** `promise`, or a rejection after `ms` (the promise itself runs on; its outcome is still handled). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Gives the request its id (a safe incoming `x-request-id`, else a new one), sets it on the
 * response, and records the HTTP metrics (and a debug line) when the response finishes.
 */
function track(app: AppServices, req: IncomingMessage, res: ServerResponse, route: () => string, path: () => string): string {
  const incoming = req.headers["x-request-id"];
  const requestId = typeof incoming === "string" && SAFE_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader("x-request-id", requestId);
  const started = process.hrtime.bigint();
  res.on("finish", () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    app.metrics.httpDuration.observe({ method: req.method ?? "", route: String(route()), status: String(res.statusCode) }, seconds);
    if (app.log.isLevelEnabled("debug")) {
      app.log.debug({ requestId, method: req.method, path: path(), status: res.statusCode, ms: seconds * 1000 }, "request");
    }
  });
  return requestId;
}

function jsonError(res: Response, status: number, message: string, code: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

export async function startHttpServer(
  app: AppServices,
  schema: GraphQLSchema,
  restRouters: RestRouterFactory[],
  rawRouters: RawRouteFactory[] = [],
): Promise<HttpServer> {
  const web = express();
  web.disable("x-powered-by");
  web.set("etag", false); // GraphQL POST answers are not cacheable; hashing each body is waste
  web.set("trust proxy", false);
  // Raw routes (hot REST paths) are served before Express; anything else, or a request a raw
  // route declines, goes to Express unchanged.
  const raw = new Map<string, RawRoute>(rawRouters.map((factory) => factory(app)).map((route) => [`${route.method} ${route.path}`, route]));
  const httpServer = createServer((req, res) => {
    const route = raw.size > 0 ? raw.get(`${req.method} ${req.url}`) : undefined;
    if (route?.accepts(req)) route.handle(req, res, track(app, req, res, () => route.path, () => route.path));
    else web(req, res);
  });

  // Request id and HTTP metrics for everything below.
  web.use((req: Request, res: Response, next: NextFunction) => {
    res.locals.requestId = track(app, req, res, () => req.route?.path ?? (req.path.startsWith(GRAPHQL_PATH) ? GRAPHQL_PATH : "other"), () => req.path);
    next();
  });

  // GraphQL POSTs, the hot path, go straight to Apollo before any other route is tried.
  const apollo = createApollo(app, schema, httpServer);
  await apollo.start();
  const graphql = [
    express.json({ limit: BODY_LIMIT, type: ["application/json", "application/graphql-response+json"] }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const requestId = String(res.locals.requestId);
        try {
          const viewer = await app.auth.authenticate({
            authorization: req.header("authorization"),
            apiKey: req.header("x-api-key"),
          });
          return createContext(app, viewer, requestId);
        } catch (err) {
          if (err instanceof DomainError) {
            throw new ApiError(err.code, err.message, { http: { status: err.code === "UNAUTHENTICATED" ? 401 : 403 } });
          }
          throw err;
        }
      },
    }),
  ];
  web.post(GRAPHQL_PATH, ...graphql);

  web.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  // This binary's migrations, once all applied, stay applied: later probes only check the database.
  let migrated = false;
  web.get("/readyz", async (_req, res) => {
    // Subscriptions and wake-ups ride on the LISTEN connection: without it this replica is not ready.
    if (!app.events.listening) {
      res.status(503).json({ status: "unavailable", reason: "event stream reconnecting" });
      return;
    }
    try {
      // A probe answers within a second: the pool would otherwise keep retrying a database that is down.
      await withTimeout(app.orm.em.getConnection().execute("select 1"), READY_TIMEOUT_MS);
      if (!migrated) {
        const pending = await pendingMigrations(app.orm);
        if (pending.length > 0) {
          res.status(503).json({ status: "migrating", pending });
          return;
        }
        migrated = true;
      }
      res.json({ status: "ready" });
    } catch (err) {
      app.log.warn({ err }, "readiness check failed");
      res.status(503).json({ status: "unavailable", reason: "database unreachable" });
    }
  });
  web.get("/metrics", async (_req, res) => {
    res.setHeader("content-type", app.metrics.registry.contentType);
    res.send(await app.metrics.registry.metrics());
  });

  for (const factory of restRouters) web.use(factory(app));

  // GET (queries, after the web router's browser redirect) and other methods (405).
  web.use(GRAPHQL_PATH, ...graphql);

  // Body parser failures and anything else that escaped a handler: clear message, no stack.
  web.use((err: Error & { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    if (err.type === "entity.too.large") return jsonError(res, 413, `Request body too large (limit ${BODY_LIMIT})`, "BAD_USER_INPUT");
    if (err.type === "entity.parse.failed") {
      // V8 quotes a slice of the body ("Unexpected token 'x', \"{\"token\": x…\" is not valid JSON"):
      // the body may hold a token or a credential, so only the reason and position are echoed.
      const reason = err.message.replace(/, "[\s\S]*"(?:\.\.\.)? is not valid JSON$/, "");
      return jsonError(res, 400, `Malformed JSON body: ${reason}`, "BAD_USER_INPUT");
    }
    if (err.status && err.status >= 400 && err.status < 500) return jsonError(res, err.status, err.message, "BAD_USER_INPUT");
    const requestId = String(res.locals.requestId);
    app.log.error({ err, requestId }, "unhandled HTTP error");
    return jsonError(res, 500, `Internal server error (request id ${requestId})`, "INTERNAL_SERVER_ERROR");
  });

  const ws = attachGraphqlWs(app, schema, httpServer, GRAPHQL_PATH);
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(app.config.port, app.config.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const host = app.config.host.includes(":") ? `[${app.config.host}]` : app.config.host;

  return {
    server: httpServer,
    port,
    url: `http://${host}:${port}`,
    async close() {
      await ws.dispose();
      await apollo.stop(); // drains in-flight HTTP requests, then closes the server
    },
  };
}
