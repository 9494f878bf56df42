/**
 * The REST shim's shared shapes: success is `{ data, meta: { request_id } }`; failures use the
 * status of the error's code, and validation failures the `{ detail: [{ loc, msg, type }] }`
 * shape. Domains register their routers in `REST_ROUTERS` (see `server.ts`).
 */
import type { Request, Response, Router } from "express";
import type { AppServices } from "../app-services.js";
import { DomainError, HTTP_STATUS, mapDatabaseError } from "../errors/index.js";

export type RestRouterFactory = (app: AppServices) => Router;

export interface ValidationDetail {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export function requestIdOf(res: Response): string {
  return String(res.locals.requestId ?? "");
}

export function sendData(res: Response, data: unknown, status = 200): void {
  res.status(status).json({ data, meta: { request_id: requestIdOf(res) } });
}

export function sendValidation(res: Response, detail: ValidationDetail[]): void {
  res.status(422).json({ detail, meta: { request_id: requestIdOf(res) } });
}

/** Sends any error in the shim's shape; unknown errors are masked and logged. */
export function sendError(app: AppServices, req: Request, res: Response, err: unknown): void {
  const domain = err instanceof DomainError ? err : mapDatabaseError(err);
  const requestId = requestIdOf(res);
  if (domain) {
    if (domain.code === "BAD_USER_INPUT") {
      sendValidation(res, [{ loc: ["body", ...(domain.field?.split(".") ?? [])], msg: domain.message, type: "value_error" }]);
      return;
    }
    res.status(HTTP_STATUS[domain.code]).json({ error: { code: domain.code, message: domain.message }, meta: { request_id: requestId } });
    return;
  }
  app.log.error({ err, requestId, path: req.path }, "unexpected error in REST handler");
  res.status(500).json({
    error: { code: "INTERNAL_SERVER_ERROR", message: `Internal server error (request id ${requestId})` },
    meta: { request_id: requestId },
  });
}
