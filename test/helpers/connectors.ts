/** Arranging connector tests: tenants with a lakehouse catalog, registration, signed reports. */
import { randomBytes, randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { RegisterConnectorDocument, type RegisterConnectorInput } from "../../schema/generated/operations.js";
import type { TestDatabase } from "./db.js";
import type { TestGantry } from "./server.js";

export async function createTenant(db: TestDatabase, slug: string, catalogStatus = "ACTIVE"): Promise<string> {
  const id = randomUUID();
  await db.query(`insert into tenant (id, slug, name, provisioning_state) values ($1, $2, $2, 'ACTIVE')`, [id, slug]);
  await db.query(`insert into lakehouse.tenant_catalogs (id, tenant_id, name, status) values ($1, $2, 'lakehouse', $3)`, [
    randomUUID(),
    id,
    catalogStatus,
  ]);
  return id;
}

export async function register(t: TestGantry, token: string, input: Partial<RegisterConnectorInput> = {}) {
  const res = await t.gql(
    RegisterConnectorDocument,
    { input: { sourceSystem: "salesforce", tapName: "tap-salesforce", destinationTable: "accounts", ...input } },
    { token },
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.registerConnector;
}

/**
 * A registered connector with its own destination table, kept away from the scheduler (the
 * caller drives its runs): its id and its webhook secret.
 */
export async function unscheduledConnector(t: TestGantry, token: string): Promise<{ id: string; secret: string }> {
  const { connector, webhookSecret } = await register(t, token, { destinationTable: `t_${randomBytes(4).toString("hex")}` });
  await t.db.query(`update connector set next_run_at = null where id = $1`, [connector.id]);
  return { id: connector.id as string, secret: webhookSecret as string };
}

/** A QUEUED run made directly (the scheduler's own path is tested elsewhere); its id. */
export async function queueRun(db: TestDatabase, tenantId: string, connectorId: string): Promise<string> {
  const id = randomUUID();
  await db.query(
    `insert into connector_run (id, tenant_id, connector_id, status, deadline_at) values ($1, $2, $3, 'QUEUED', now() + interval '1 hour')`,
    [id, tenantId, connectorId],
  );
  return id;
}

export interface Report {
  connector_id: string;
  run_id: string;
  status: "success" | "failed";
  rows_synced?: number;
  state?: Record<string, unknown> | null;
  error_msg?: string | null;
}

/** POSTs a report signed by the stock `standardwebhooks` library (or with the given headers). */
export async function postReport(
  url: string,
  secret: string,
  body: Report | string,
  options: { id?: string; timestamp?: Date; headers?: Record<string, string>; tamper?: (raw: string) => string } = {},
) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const id = options.id ?? `msg_${randomUUID()}`;
  const timestamp = options.timestamp ?? new Date();
  const signature = new Webhook(secret).sign(id, timestamp, raw);
  const headers = options.headers ?? {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": signature,
  };
  const res = await fetch(`${url}/v1/etl/meltano/webhook`, {
    method: "POST",
    headers,
    body: options.tamper ? options.tamper(raw) : raw,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Polls `check` until it returns a value (no event to wait on: the scheduler works in the background). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met before the deadline");
    await new Promise((r) => setTimeout(r, 50));
  }
}
