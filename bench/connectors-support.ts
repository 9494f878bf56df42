/** Seeding for the connector benchmarks (databases and child processes are in lib.ts). */
import { randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { encryptSecret } from "../src/crypto/index.js";
import { webhookSecretAad } from "../src/connectors/secrets.js";


export async function insertTenant(pool: pg.Pool, slug: string): Promise<string> {
  const id = randomUUID();
  await pool.query(`insert into tenant (id, slug, name, provisioning_state) values ($1, $2, $2, 'ACTIVE')`, [id, slug]);
  await pool.query(`insert into lakehouse.tenant_catalogs (id, tenant_id, name) values ($1, $2, 'lakehouse')`, [randomUUID(), id]);
  return id;
}

export interface SeededConnector {
  id: string;
  secret: string;
}

/**
 * Inserts `n` ACTIVE connectors (their webhook secret sealed as Gantry does), `nextRunAt` as given
 * in SQL, optionally each with one QUEUED run (returned ids match by index).
 */
export async function seedConnectors(
  pool: pg.Pool,
  tenantId: string,
  n: number,
  options: { masterKey?: Buffer; nextRunAt?: string; queuedRun?: boolean } = {},
): Promise<{ connectors: SeededConnector[]; runIds: string[] }> {
  const connectors: SeededConnector[] = [];
  const runIds: string[] = [];
  for (let offset = 0; offset < n; offset += 2000) {
    const batch = Array.from({ length: Math.min(2000, n - offset) }, (_, i) => {
      const id = randomUUID();
      const secret = `whsec_${randomBytes(32).toString("base64")}`;
      connectors.push({ id, secret });
      return {
        id,
        table: `t_${offset + i}`,
        envelope: options.masterKey ? encryptSecret(options.masterKey, secret, webhookSecretAad(id)) : "unused",
      };
    });
    await pool.query(
      `insert into connector (id, tenant_id, source_system, tap_name, destination_catalog, destination_table, lakehouse_namespace,
                              sync_schedule, meltano_environment, webhook_secret_envelope, next_run_at)
       select x.id, $2, 'bench', 'tap-synthetic', 'lakehouse', x.table, 'gantry_tenant_bench', '0 2 * * *', 'prod', x.envelope,
              ${options.nextRunAt ?? "now() + interval '1 day'"}
         from jsonb_to_recordset($1::jsonb) as x(id uuid, "table" text, envelope text)`,
      [JSON.stringify(batch), tenantId],
    );
    if (options.queuedRun) {
      const runs = batch.map((c) => ({ id: randomUUID(), connector_id: c.id }));
      runIds.push(...runs.map((r) => r.id));
      await pool.query(
        `insert into connector_run (id, tenant_id, connector_id, status, deadline_at)
         select x.id, $2, x.connector_id, 'QUEUED', now() + interval '1 hour'
           from jsonb_to_recordset($1::jsonb) as x(id uuid, connector_id uuid)`,
        [JSON.stringify(runs), tenantId],
      );
    }
  }
  return { connectors, runIds };
}
