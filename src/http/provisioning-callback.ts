/**
 * `POST /api/v1/provisioning/callback`: an external service reports the result of a callback
 * step. Body `{ callback_token, status, endpoint, credentials, error, metadata }`. A bad token is
 * 401 with the reason; a malformed body 422; success `{ data: { workflow_id, step, status } }`.
 */
import express, { Router } from "express";
import type { AppServices } from "../app-services.js";
import { completeCallback } from "../engine/callback.js";
import { CALLBACK_PATH } from "../engine/worker.js";
import { sendData, sendError, sendValidation, type ValidationDetail } from "./rest.js";
import { nulDetail } from "./input-guard.js";

const STATUSES = ["success", "failed"] as const;

function validate(body: unknown): ValidationDetail[] {
  const detail: ValidationDetail[] = [];
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    return [{ loc: ["body"], msg: "must be a JSON object", type: "type_error.dict" }];
  }
  const b = body as Record<string, unknown>;
  const optional = (field: string, ok: (v: unknown) => boolean, msg: string, type: string) => {
    if (b[field] !== undefined && b[field] !== null && !ok(b[field])) detail.push({ loc: ["body", field], msg, type });
  };
  if (typeof b.callback_token !== "string" || b.callback_token.length === 0) {
    detail.push({ loc: ["body", "callback_token"], msg: "field required (a non-empty string)", type: "value_error.missing" });
  } else if (b.callback_token.length > 512) {
    detail.push({ loc: ["body", "callback_token"], msg: "is too long", type: "value_error.any_str.max_length" });
  }
  if (!STATUSES.includes(b.status as never)) {
    detail.push({ loc: ["body", "status"], msg: `must be one of ${STATUSES.join(", ")}`, type: "type_error.enum" });
  }
  optional("endpoint", (v) => typeof v === "string", "must be a string", "type_error.str");
  optional("credentials", (v) => typeof v === "string" || (typeof v === "object" && !Array.isArray(v)), "must be an object or a string", "type_error");
  optional("error", (v) => typeof v === "string", "must be a string", "type_error.str");
  optional("metadata", (v) => typeof v === "object" && !Array.isArray(v), "must be an object", "type_error.dict");
  const nul = nulDetail(b, ["body"], "value_error.str");
  if (nul) detail.push(nul);
  return detail;
}

export function provisioningCallbackRouter(app: AppServices): Router {
  const router = Router();
  router.post(CALLBACK_PATH, express.json({ limit: "256kb" }), async (req, res) => {
    const detail = validate(req.body);
    if (detail.length > 0) return sendValidation(res, detail);
    const b = req.body as Record<string, unknown>;
    try {
      const outcome = await completeCallback(app.orm, app.config.masterKey!, {
        token: b.callback_token as string,
        status: b.status as "success" | "failed",
        endpoint: (b.endpoint as string | null | undefined) ?? null,
        credentials: b.credentials ?? null,
        error: (b.error as string | null | undefined) ?? null,
        metadata: (b.metadata as Record<string, unknown> | null | undefined) ?? null,
      });
      sendData(res, { workflow_id: outcome.workflowId, step: outcome.step, status: outcome.stepStatus });
    } catch (err) {
      sendError(app, req, res, err);
    }
  });
  return router;
}
