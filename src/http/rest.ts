/**
 * The REST shim's shared shapes: success is `{ data, meta: { request_id } }`; failures use the
 * status of the error's code, and validation failures the `{ detail: [{ loc, msg, type }] }`
 * shape. Domains register their routers in `REST_ROUTERS` (see `server.ts`), and a hot route may
 * also register a plain node:http handler in `RAW_ROUTES` that answers the same shapes through
 * `writeReply` (the Express wrappers below and it share `errorReply`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Request, Response, Router } from "express";
import type { AppServices } from "../app-services.js";
import { DomainError, HTTP_STATUS, mapDatabaseError } from "../errors/index.js";

export type RestRouterFactory = (app: AppServices) => Router;

/**
 * A route served on node:http before Express, for a hot path. It takes requests whose method and
 * target (path, no query string) match exactly and that `accepts` (from the headers alone);
 * everything else, including the other spellings Express would route here, goes to Express, so
 * the route only has to answer its common case exactly as the Express route would. `handle` gets
 * the request id already set on the response and the request counted in the HTTP metrics.
 */
export interface RawRoute {
  method: string;
  path: string;
  accepts(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse, requestId: string): void;
}
export type RawRouteFactory = (app: AppServices) => RawRoute;

export interface ValidationDetail {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export interface Reply {
  status: number;
  body: unknown;
}

export function requestIdOf(res: Response): string {
  return String(res.locals.requestId ?? "");
}

export const dataReply = (data: unknown, requestId: string, status = 200): Reply => ({ status, body: { data, meta: { request_id: requestId } } });

export const validationReply = (detail: ValidationDetail[], requestId: string): Reply => ({
  status: 422,
  body: { detail, meta: { request_id: requestId } },
});

/** Any error in the shim's shape; unknown errors are masked and logged. */
export function errorReply(app: AppServices, path: string, requestId: string, err: unknown): Reply {
  const domain = err instanceof DomainError ? err : mapDatabaseError(err);
  if (domain) {
    if (domain.code === "BAD_USER_INPUT") {
      return validationReply([{ loc: ["body", ...(domain.field?.split(".") ?? [])], msg: domain.message, type: "value_error" }], requestId);
    }
    return { status: HTTP_STATUS[domain.code], body: { error: { code: domain.code, message: domain.message }, meta: { request_id: requestId } } };
  }
  app.log.error({ err, requestId, path }, "unexpected error in REST handler");
  return {
    status: 500,
    body: { error: { code: "INTERNAL_SERVER_ERROR", message: `Internal server error (request id ${requestId})` }, meta: { request_id: requestId } },
  };
}

/** Answers a reply on plain node:http with the headers Express's `res.json` sets (no ETag: disabled). */
export function writeReply(res: ServerResponse, { status, body }: Reply): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

export function sendData(res: Response, data: unknown, status = 200): void {
  const reply = dataReply(data, requestIdOf(res), status);
  res.status(reply.status).json(reply.body);
}

export function sendValidation(res: Response, detail: ValidationDetail[]): void {
  const reply = validationReply(detail, requestIdOf(res));
  res.status(reply.status).json(reply.body);
}

/** Sends any error in the shim's shape; unknown errors are masked and logged. */
export function sendError(app: AppServices, req: Request, res: Response, err: unknown): void {
  const reply = errorReply(app, req.path, requestIdOf(res), err);
  res.status(reply.status).json(reply.body);
}
