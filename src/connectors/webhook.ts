/**
 * The runner's report, `POST /v1/etl/meltano/webhook`, in the Standard Webhooks form: the raw
 * body is verified with the connector's `whsec_` secret by the stock `standardwebhooks` library
 * (HMAC-SHA256 over `id.timestamp.body`, constant-time compare, 5-minute tolerance). Only a
 * QUEUED or RUNNING run can be finished; a delivery that had an effect is stored under its
 * `webhook-id`, so a replay gets the same answer and changes nothing.
 */
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { AppServices } from "../app-services.js";
import { systemEm, type EntityManager } from "../db/orm.js";
import { appendEvents, wake } from "../events/index.js";
import { DomainError } from "../errors/index.js";
import type { ValidationDetail } from "../http/rest.js";
import { startLoad } from "./load.js";
import { RUN_COLUMNS, runEvent, runFromRow, type RunRow, type RunView } from "./runs.js";
import { openWebhookSecret, requireMasterKey } from "./secrets.js";
import { exec } from "./sql/exec.js";
import { recordFailures } from "./sql/recordRunOutcome.js";
import { SCHEDULER_CHANNEL } from "./types.js";
import { isUuid } from "./validation.js";

export const WEBHOOK_PATH = "/v1/etl/meltano/webhook";
export const WEBHOOK_BODY_LIMIT = "256kb";

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
  const em = systemEm(app.orm);
  const connectorId = body.connector_id.toLowerCase();
  const [connector] = await exec<{ id: string; tenant_id: string; webhook_secret_envelope: string }>(
    em,
    `select id, tenant_id, webhook_secret_envelope from connector where id = ?`,
    [connectorId],
  );
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
  const report = parseReport(body);
  if (Array.isArray(report)) return { kind: "invalid", detail: report };
  return applyReport(em, connector.tenant_id, webhookId, report);
}

/** One transaction: the run's transition, the breaker or the load hand-off, the delivery record, the events. */
async function applyReport(em: EntityManager, tenantId: string, webhookId: string, report: RunReport): Promise<WebhookResult> {
  return em.transactional(async (tem) => {
    const success = report.status === "success";
    const [row] = await exec<RunRow>(
      tem,
      success
        ? `update connector_run set status = 'LOADING', rows_synced = ?, reported_state = ?::jsonb,
                  started_at = coalesce(started_at, now()), error_msg = null
            where id = ? and connector_id = ? and status in ('QUEUED', 'RUNNING') returning ${RUN_COLUMNS}`
        : `update connector_run set status = 'FAILED', rows_synced = ?, error_msg = ?, completed_at = now(),
                  started_at = coalesce(started_at, now())
            where id = ? and connector_id = ? and status in ('QUEUED', 'RUNNING') returning ${RUN_COLUMNS}`,
      [
        report.rowsSynced,
        success ? (report.state === null ? null : JSON.stringify(report.state)) : (report.errorMsg ?? "The runner reported a failure"),
        report.runId,
        report.connectorId,
      ],
    );
    if (!row) return finishedAlready(tem, webhookId, report);
    const changed: RunView[] = [runFromRow(row)];
    if (success) changed.push(...(await startLoad(tem, { run: changed[0]!, rowsSynced: report.rowsSynced })));
    else await recordFailures(tem, [report.connectorId]);
    const final = changed.at(-1)!;
    const data = { connector_id: report.connectorId, run_id: report.runId, status: final.status };
    await exec(
      tem,
      `insert into connector_webhook_delivery (connector_id, webhook_id, tenant_id, response_status, response_data)
       values (?, ?, ?, 200, ?::jsonb)`,
      [report.connectorId, webhookId, tenantId, JSON.stringify(data)],
    );
    await wake(tem, SCHEDULER_CHANNEL);
    await appendEvents(tem, changed.map(runEvent));
    return { kind: "ok" as const, status: 200, data };
  });
}

/** The run is not QUEUED/RUNNING: a replay gets its stored answer; otherwise 404 or 409. */
async function finishedAlready(em: EntityManager, webhookId: string, report: RunReport): Promise<WebhookResult> {
  const [stored] = await exec<{ response_status: number; response_data: Record<string, unknown> }>(
    em,
    `select response_status, response_data from connector_webhook_delivery where connector_id = ? and webhook_id = ?`,
    [report.connectorId, webhookId],
  );
  if (stored) return { kind: "ok", status: stored.response_status, data: stored.response_data };
  const [run] = await exec<{ status: string }>(em, `select status from connector_run where id = ? and connector_id = ?`, [
    report.runId,
    report.connectorId,
  ]);
  if (!run) throw DomainError.notFound("Run", report.runId);
  throw DomainError.conflict(`Run already ${run.status}; a finished run never changes`, { status: run.status });
}
