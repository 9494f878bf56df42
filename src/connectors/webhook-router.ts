/**
 * The REST adapters of the run webhook: raw body (size-limited, 413), then `handleRunReport`.
 * The hot path is a raw route (node:http, before Express): a POST to the exact path with a
 * `Content-Length` within the limit and no content coding, which is what runners send. Any other
 * request for the path (chunked, compressed, too large, another spelling of the path) goes to
 * the Express router below, so each edge case keeps body-parser's answer; both answer through
 * the same `handleRunReport` and reply shapes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import express, { Router, type NextFunction, type Request, type Response } from "express";
import type { AppServices } from "../app-services.js";
import { dataReply, errorReply, requestIdOf, sendData, sendError, sendValidation, validationReply, writeReply, type RawRoute, type Reply } from "../http/rest.js";
import { handleRunReport, WEBHOOK_BODY_LIMIT, WEBHOOK_BODY_LIMIT_BYTES, WEBHOOK_PATH } from "./webhook.js";

const signatureHeaders = (header: (name: string) => string | undefined) => ({
  "webhook-id": header("webhook-id"),
  "webhook-timestamp": header("webhook-timestamp"),
  "webhook-signature": header("webhook-signature"),
});

/** The node:http header as Express's `req.header` returns it. */
const headerOf = (req: IncomingMessage) => (name: string) => req.headers[name] as string | undefined;

async function reply(app: AppServices, req: IncomingMessage, body: Buffer, requestId: string): Promise<Reply> {
  try {
    const result = await handleRunReport(app, signatureHeaders(headerOf(req)), body);
    return result.kind === "invalid" ? validationReply(result.detail, requestId) : dataReply(result.data, requestId, result.status);
  } catch (err) {
    return errorReply(app, WEBHOOK_PATH, requestId, err);
  }
}

export function connectorWebhookRoute(app: AppServices): RawRoute {
  return {
    method: "POST",
    path: WEBHOOK_PATH,
    accepts(req) {
      const length = req.headers["content-length"];
      const coding = req.headers["content-encoding"];
      return (
        length !== undefined &&
        Number(length) <= WEBHOOK_BODY_LIMIT_BYTES &&
        req.headers["transfer-encoding"] === undefined &&
        (coding === undefined || coding.toLowerCase() === "identity")
      );
    },
    handle(req: IncomingMessage, res: ServerResponse, requestId: string) {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      // An aborted upload has no one to answer.
      req.on("error", () => res.destroy());
      req.on("end", () => {
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        reply(app, req, body, requestId)
          .then((r) => writeReply(res, r))
          .catch((err: unknown) => {
            // Only the answer itself can fail here (`reply` maps every error to one).
            app.log.error({ err, requestId, path: WEBHOOK_PATH }, "could not answer a webhook request");
            res.destroy();
          });
      });
    },
  };
}

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
        const result = await handleRunReport(app, signatureHeaders((name) => req.header(name)), body);
        if (result.kind === "invalid") sendValidation(res, result.detail);
        else sendData(res, result.data, result.status);
      } catch (err) {
        sendError(app, req, res, err);
      }
    },
  );
  return router;
}
