/**
 * Webhook figure (issue 5): verified run reports per second at 32 connections — Gantry's
 * `POST /v1/etl/meltano/webhook` (verify, dedupe, transition, load hand-off, events, one
 * transaction) against a bare verify-and-update handler, in the same run. Every request finishes
 * a different QUEUED run and is signed by the stock `standardwebhooks` library.
 *   node dist/bench/webhook.js [--quick]
 */
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { Webhook } from "standardwebhooks";
import { MAIN, freshDatabase, insertTenant, quick, seedConnectors, startChild, table, type SeededConnector } from "./connectors-support.js";

const here = path.dirname(fileURLToPath(import.meta.url));

async function measure(url: string, connectors: SeededConnector[], runIds: string[]) {
  let next = 0;
  const verifiers = connectors.map((c) => new Webhook(c.secret));
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: 32,
    amount: connectors.length,
    requests: [
      {
        method: "POST",
        path: "/v1/etl/meltano/webhook",
        setupRequest: (req: Record<string, unknown>) => {
          const i = next++ % connectors.length;
          const body = JSON.stringify({ connector_id: connectors[i]!.id, run_id: runIds[i], status: "success", rows_synced: 10, state: { bookmarks: { s: { v: i } } } });
          const id = `msg_${randomUUID()}`;
          const now = new Date();
          return {
            ...req,
            body,
            headers: {
              "content-type": "application/json",
              "webhook-id": id,
              "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
              "webhook-signature": verifiers[i]!.sign(id, now, body),
            },
          };
        },
      },
    ],
  });
  const seconds = (performance.now() - started) / 1000;
  return { rps: result.requests.total / seconds, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

async function main(): Promise<void> {
  const n = quick() ? 1_500 : 6_000;
  const masterKey = randomBytes(32);
  const db = await freshDatabase("hook");
  const rows: Record<string, string | number>[] = [];
  try {
    const tenantId = await insertTenant(db.pool, "bench");
    const warm = await seedConnectors(db.pool, tenantId, 400, { masterKey, queuedRun: true });
    const forGantry = await seedConnectors(db.pool, tenantId, n, { masterKey, queuedRun: true });
    const forBare = await seedConnectors(db.pool, tenantId, n, { masterKey, queuedRun: true });
    const env = { DATABASE_URL: db.url, GANTRY_MASTER_KEY: masterKey.toString("base64") };
    const gantry = await startChild(process.env.PROF ? "/tmp/prof-main.mjs" : MAIN, { ...env, GANTRY_ROLES: "api" }, /GraphQL \(HTTP \+ graphql-ws\): (http:\/\/\S+)\/graphql/);
    const bare = await startChild(path.join(here, "webhook-bare.js"), env, /bare listening on (http:\/\/\S+)/);
    try {
      const half = (xs: string[] | SeededConnector[], i: number) => xs.slice(i * 200, (i + 1) * 200);
      await measure(gantry.match[1]!, half(warm.connectors, 0) as SeededConnector[], half(warm.runIds, 0) as string[]);
      await measure(bare.match[1]!, half(warm.connectors, 1) as SeededConnector[], half(warm.runIds, 1) as string[]);
      const g = await measure(gantry.match[1]!, forGantry.connectors, forGantry.runIds);
      const b = await measure(bare.match[1]!, forBare.connectors, forBare.runIds);
      const { rows: [done] } = await db.pool.query(
        `select count(*) filter (where status = 'COMPLETED' and connector_id = any($1::uuid[]))::int as gantry,
                count(*) filter (where status = 'COMPLETED' and connector_id = any($2::uuid[]))::int as bare
           from connector_run`,
        [forGantry.connectors.map((c) => c.id), forBare.connectors.map((c) => c.id)],
      );
      rows.push({ server: "gantry webhook", reports: n, "completed runs": done.gantry, "reports/s": Math.round(g.rps), "p50 ms": g.p50, "p99 ms": g.p99, non2xx: g.non2xx });
      rows.push({ server: "bare verify + update", reports: n, "completed runs": done.bare, "reports/s": Math.round(b.rps), "p50 ms": b.p50, "p99 ms": b.p99, non2xx: b.non2xx });
      rows.push({ server: "ratio", reports: "", "completed runs": "", "reports/s": `${Math.round((g.rps / b.rps) * 100)} %`, "p50 ms": "", "p99 ms": "", non2xx: "" });
    } finally {
      await Promise.all([gantry.stop(), bare.stop()]);
    }
  } finally {
    await db.drop();
  }
  process.stdout.write(table(rows) + "\n");
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
