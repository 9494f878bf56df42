/**
 * The runner's report, `POST /v1/etl/meltano/webhook`, in the Standard Webhooks form: the raw
 * body is verified with the connector's `whsec_` secret by the stock `standardwebhooks` library
 * (HMAC-SHA256 over `id.timestamp.body`, constant-time compare, 5-minute tolerance). Only a
 * QUEUED or RUNNING run can be finished; a delivery that had an effect is stored under its
 * `webhook-id`, so a replay gets the same answer and changes nothing.
 */
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { AppServices } from "../app-services.js";
import { reportBatcher } from "./report-batcher.js";
import { webhookConnectorLookup } from "./webhook-lookup.js";
import { DomainError } from "../errors/index.js";
import type { ValidationDetail } from "../http/rest.js";
import { openWebhookSecret, requireMasterKey } from "./secrets.js";
import { isUuid } from "./validation.js";
import { nulDetail } from "../http/input-guard.js";

export const WEBHOOK_PATH = "/v1/etl/meltano/webhook";
export const WEBHOOK_BODY_LIMIT = "256kb";
/** `WEBHOOK_BODY_LIMIT` in bytes (as body-parser reads it: 1 kb = 1024). */
export const WEBHOOK_BODY_LIMIT_BYTES = 256 * 1024;

export type WebhookResult =
  | { kind: "ok"; status: number; data: Record<string, unknown> }
  | { kind: "invalid"; detail: ValidationDetail[] };

export interface RunReport {
  connectorId: string;
  runId: string;
  status: "success" | "failed";
  rowsSynced: number;
  state: Record<string, unknown> | null;
  errorMsg: string | null;
}

const invalid = (loc: (string | number)[], msg: string, type = "value_error"): ValidationDetail => ({ loc: ["body", ...loc], msg, type });

/** Body checks after the signature is good (the signature is checked on the raw bytes first). */
export function parseReport(body: Record<string, unknown>): RunReport | ValidationDetail[] {
  const detail: ValidationDetail[] = [];
  if (!isUuid(body.run_id)) detail.push(invalid(["run_id"], "must be a run id (UUID)", body.run_id === undefined ? "missing" : "uuid_parsing"));
  if (body.status !== "success" && body.status !== "failed") detail.push(invalid(["status"], "must be 'success' or 'failed'", "enum"));
  const rows = body.rows_synced ?? 0;
  if (typeof rows !== "number" || !Number.isSafeInteger(rows) || rows < 0) detail.push(invalid(["rows_synced"], "must be a non-negative integer", "int_type"));
  const state = body.state ?? null;
  if (state !== null && (typeof state !== "object" || Array.isArray(state))) detail.push(invalid(["state"], "must be an object (Singer STATE value) or null", "dict_type"));
  const errorMsg = body.error_msg ?? null;
  if (errorMsg !== null && typeof errorMsg !== "string") detail.push(invalid(["error_msg"], "must be a string or null", "string_type"));
  if (detail.length > 0) return detail;
  return {
    connectorId: (body.connector_id as string).toLowerCase(),
    runId: (body.run_id as string).toLowerCase(),
    status: body.status as "success" | "failed",
    rowsSynced: rows as number,
    state: state as Record<string, unknown> | null,
    errorMsg: errorMsg === null ? null : (errorMsg as string).slice(0, 4000),
  };
}

/** Verifiers per connector, keyed by the secret's envelope (so a rotated secret gets a new one). */
const verifiers = new Map<string, Webhook>();

function verifierFor(masterKey: Buffer, connectorId: string, envelope: string): Webhook {
  let verifier = verifiers.get(envelope);
  if (!verifier) {
    verifier = new Webhook(openWebhookSecret(masterKey, connectorId, envelope));
    if (verifiers.size >= 10_000) verifiers.clear();
    verifiers.set(envelope, verifier);
  }
  return verifier;
}

export async function handleRunReport(app: AppServices, headers: Record<string, string | undefined>, raw: Buffer): Promise<WebhookResult> {
  const webhookId = headers["webhook-id"];
  if (!webhookId || !headers["webhook-timestamp"] || !headers["webhook-signature"]) {
    throw DomainError.unauthenticated("Missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (webhookId.length > 200) throw DomainError.unauthenticated("webhook-id is too long");
  let body: Record<string, unknown>;
  try {
    const parsed = JSON.parse(raw.toString("utf8")) as unknown;
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    body = parsed as Record<string, unknown>;
  } catch {
    return { kind: "invalid", detail: [invalid([], "must be a JSON object", "json_invalid")] };
  }
  if (!isUuid(body.connector_id)) {
    return { kind: "invalid", detail: [invalid(["connector_id"], "must be a connector id (UUID)", body.connector_id === undefined ? "missing" : "uuid_parsing")] };
  }
  const connectorId = body.connector_id.toLowerCase();
  const connector = await webhookConnectorLookup(app.orm).find(connectorId);
  if (!connector) throw DomainError.notFound("Connector", connectorId);
  try {
    verifierFor(requireMasterKey(app.config.masterKey), connector.id, connector.webhook_secret_envelope).verify(raw, {
      "webhook-id": webhookId,
      "webhook-timestamp": headers["webhook-timestamp"]!,
      "webhook-signature": headers["webhook-signature"]!,
    }, { jsonParse: false });
  } catch (err) {
    if (err instanceof WebhookVerificationError) throw DomainError.unauthenticated(`Webhook rejected: ${err.message}`);
    throw err;
  }
  const nul = nulDetail(body, ["body"], "string_type");
  if (nul) return { kind: "invalid", detail: [nul] };
  const report = parseReport(body);
  if (Array.isArray(report)) return { kind: "invalid", detail: report };
  return reportBatcher(app.orm).submit({ tenantId: connector.tenant_id, webhookId, report });
}
