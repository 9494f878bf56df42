/** What the webhook needs of the connectors a group of reports names: tenant and sealed secret. */
import type { EntityManager } from "../../db/orm.js";
import { exec } from "./exec.js";

export interface WebhookConnectorRow {
  id: string;
  tenant_id: string;
  webhook_secret_envelope: string;
}

export async function findWebhookConnectors(em: EntityManager, ids: readonly string[]): Promise<WebhookConnectorRow[]> {
  return exec<WebhookConnectorRow>(em, `select id, tenant_id, webhook_secret_envelope from connector where id = any(?::uuid[])`, [ids]);
}
