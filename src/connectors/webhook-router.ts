/** The REST adapter of the run webhook: raw body (size-limited, 413), then `handleRunReport`. */
import express, { Router, type NextFunction, type Request, type Response } from "express";
import type { AppServices } from "../app-services.js";
import { requestIdOf, sendData, sendError, sendValidation } from "../http/rest.js";
import { handleRunReport, WEBHOOK_BODY_LIMIT, WEBHOOK_PATH } from "./webhook.js";

export function connectorWebhookRouter(app: AppServices): Router {
  const router = Router();
  const raw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  router.post(
    WEBHOOK_PATH,
    (req: Request, res: Response, next: NextFunction) =>
      raw(req, res, (err?: unknown) => {
        const type = (err as { type?: string } | undefined)?.type;
        if (type === "entity.too.large") {
          res.status(413).json({
            error: { code: "BAD_USER_INPUT", message: `Request body too large (limit ${WEBHOOK_BODY_LIMIT})` },
            meta: { request_id: requestIdOf(res) },
          });
          return;
        }
        next(err);
      }),
    async (req: Request, res: Response) => {
      try {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const result = await handleRunReport(
          app,
          {
            "webhook-id": req.header("webhook-id"),
            "webhook-timestamp": req.header("webhook-timestamp"),
            "webhook-signature": req.header("webhook-signature"),
          },
          body,
        );
        if (result.kind === "invalid") sendValidation(res, result.detail);
        else sendData(res, result.data, result.status);
      } catch (err) {
        sendError(app, req, res, err);
      }
    },
  );
  return router;
}
