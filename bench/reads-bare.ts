/**
 * The baseline for bench/reads.ts: a bare node:http + pg handler answering the same JSON as
 * `{ connectors(first: 50) { nodes { … lastRun { … } } } }` for one tenant, with the same two
 * statements (the page, then the last run of each). No auth, no GraphQL: the floor.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";

// timestamptz as ISO strings, bigint as numbers: the JSON the GraphQL layer would produce.
pg.types.setTypeParser(1184, (v) => new Date(v).toISOString());
pg.types.setTypeParser(20, (v) => Number(v));

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const tenantId = process.env.BENCH_TENANT_ID!;

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", async () => {
    try {
      const page = await pool.query(
        `select id, source_system as "sourceSystem", tap_name as "tapName", status, next_run_at as "nextRunAt",
                last_synced_at as "lastSyncedAt", rows_total as "rowsTotal"
           from connector where tenant_id = $1 order by created_at desc, id desc limit 51`,
        [tenantId],
      );
      const nodes = page.rows.slice(0, 50);
      const runs = await pool.query(
        `select distinct on (connector_id) connector_id, id, status, rows_synced as "rowsSynced", rows_loaded as "rowsLoaded",
                queued_at as "queuedAt", completed_at as "completedAt"
           from connector_run where connector_id = any($1::uuid[]) and tenant_id = $2
          order by connector_id, queued_at desc, id desc`,
        [nodes.map((n) => n.id), tenantId],
      );
      const byId = new Map(runs.rows.map(({ connector_id, ...run }) => [connector_id as string, run]));
      const body = JSON.stringify({ data: { connectors: { nodes: nodes.map((n) => ({ ...n, lastRun: byId.get(n.id) ?? null })) } } });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
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
