/**
 * The baseline for bench/webhook.ts: a bare node:http handler that does the essential work of a
 * report and nothing else — read the connector's sealed secret, open it, verify the Standard
 * Webhooks signature with the same library, finish the run in one UPDATE, answer JSON.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { Webhook } from "standardwebhooks";
import { decryptSecret } from "../src/crypto/index.js";
import { webhookSecretAad } from "../src/connectors/secrets.js";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const masterKey = Buffer.from(process.env.GANTRY_MASTER_KEY!, "base64");

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", async () => {
    try {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString("utf8")) as { connector_id: string; run_id: string; rows_synced: number };
      const { rows } = await pool.query(`select webhook_secret_envelope from connector where id = $1`, [body.connector_id]);
      if (!rows[0]) return void res.writeHead(404).end();
      const secret = decryptSecret(masterKey, rows[0].webhook_secret_envelope, webhookSecretAad(body.connector_id));
      try {
        new Webhook(secret).verify(raw, req.headers as Record<string, string>, { jsonParse: false });
      } catch {
        return void res.writeHead(401).end();
      }
      const done = await pool.query(
        `update connector_run set status = 'COMPLETED', rows_synced = $1, rows_loaded = $1, completed_at = now()
          where id = $2 and connector_id = $3 and status in ('QUEUED', 'RUNNING')`,
        [body.rows_synced, body.run_id, body.connector_id],
      );
      if (done.rowCount !== 1) return void res.writeHead(409).end();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: { run_id: body.run_id, status: "COMPLETED" } }));
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`bare listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
