/**
 * A 1,000,000-row tap-synthetic sync end to end through a real Gantry (every role in this
 * process): GraphQL trigger → scheduler → runner (tap process → reader → staging) → signed
 * webhook → loader job (mapping, upsert into the lakehouse table) → COMPLETED. Compared with
 * PostgreSQL COPY of the same rows into a table of the same shape, measured in the same run.
 * Reports this process's peak RSS (runner, loader and api together; the tap is its own process).
 *
 *   npm run build && node dist/bench/sync.js [rows=1000000] [--mapped]
 * `--mapped` adds field mappings with a CEL transform on every row (the slower, general path).
 * BENCH_DATABASE_URL (default postgresql://root@127.0.0.1:5432/postgres) is used to create and
 * drop a scratch database.
 */
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { startGantry } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log/logger.js";
import { syntheticRow } from "../src/taps/synthetic.js";

const rows = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const mapped = process.argv.includes("--mapped");
const adminUrl = process.env.BENCH_DATABASE_URL ?? "postgresql://root@127.0.0.1:5432/postgres";
const dbName = `gantry_bench_sync_${process.pid}`;

function urlFor(database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function* copyText(n: number): Generator<string> {
  let chunk = "";
  for (let id = 1; id <= n; id++) {
    const r = syntheticRow(id);
    chunk += `${r.id}\t${r.name}\t${r.amount}\t${r.created_at}\n`;
    if (chunk.length > 64 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

async function gql(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<any> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: unknown; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-bench-sync-"));
  const client = new pg.Client({ connectionString: urlFor(dbName) });
  let gantry: Awaited<ReturnType<typeof startGantry>> | undefined;
  try {
    const config = loadConfig({
      DATABASE_URL: urlFor(dbName),
      PORT: "0",
      GANTRY_DATA_DIR: dataDir,
      JWT_SECRET: randomBytes(32).toString("hex"),
      ADMIN_API_KEYS: `bench-${randomBytes(12).toString("hex")}`,
      GANTRY_MASTER_KEY: randomBytes(32).toString("base64"),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
      GANTRY_WORKER_POLL_MS: "200",
    });
    gantry = await startGantry(config, createLogger(config.logLevel, process.stderr));
    await client.connect();
    const tenantId = randomUUID();
    await client.query(`insert into tenant (id, slug, name, provisioning_state) values ($1, 'bench', 'bench', 'ACTIVE')`, [tenantId]);
    await client.query(`insert into lakehouse.tenant_catalogs (id, tenant_id, name, status) values ($1, $2, 'lakehouse', 'ACTIVE')`, [randomUUID(), tenantId]);
    const token = await gantry.services.auth.signTenantToken(tenantId);
    const url = `${gantry.http!.url}/graphql`;
    const registered = await gql(url, token, `mutation ($input: RegisterConnectorInput!) { registerConnector(input: $input) { connector { id } } }`, {
      input: { sourceSystem: "synthetic", tapName: "tap-synthetic", destinationTable: "synthetic", config: { rows } },
    });
    const connectorId = registered.registerConnector.connector.id as string;
    if (mapped) {
      await gql(url, token, `mutation ($id: ID!, $m: [FieldMappingInput!]!) { setFieldMappings(connectorId: $id, mappings: $m) { stream } }`, {
        id: connectorId,
        m: [
          { stream: "synthetic", sourceField: "id", destinationColumn: "id", isKey: true, dataType: "bigint" },
          { stream: "synthetic", sourceField: "name", destinationColumn: "name" },
          { stream: "synthetic", sourceField: "amount", destinationColumn: "amount_cents", transform: "row.amount * 100" },
          { stream: "synthetic", sourceField: "created_at", destinationColumn: "created_at", dataType: "timestamptz" },
        ],
      });
    }
    await client.query(`update connector set next_run_at = null where id = $1`, [connectorId]);

    console.log(`${rows.toLocaleString("en-US")} tap-synthetic rows end to end${mapped ? " (CEL-mapped)" : " (as-is)"}`);
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const start = performance.now();
    await gql(url, token, `mutation ($id: ID!) { triggerConnectorSync(id: $id) { status } }`, { id: connectorId });
    let loadingAt: number | undefined;
    let run: { status: string; rows_synced: string; rows_loaded: string; transform_errors: number; error_msg: string | null } | undefined;
    for (;;) {
      [run] = (await client.query(`select status, rows_synced, rows_loaded, transform_errors, error_msg from connector_run where connector_id = $1`, [connectorId])).rows;
      if (run?.status === "LOADING" && loadingAt === undefined) loadingAt = performance.now();
      if (run && ["COMPLETED", "FAILED"].includes(run.status)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    if (run.status !== "COMPLETED" || Number(run.rows_loaded) !== rows) throw new Error(`run ended ${JSON.stringify(run)}`);
    const [{ n }] = (await client.query(`select count(*)::int as n from gantry_tenant_bench.synthetic`)).rows;
    if (n !== rows) throw new Error(`destination holds ${n} rows`);

    await client.query(`create table copy_baseline (id bigint primary key, name text, amount double precision, created_at timestamptz)`);
    const copyStart = performance.now();
    await pipeline(Readable.from(copyText(rows)), client.query(copyFrom(`copy copy_baseline from stdin`)));
    const copySeconds = (performance.now() - copyStart) / 1000;

    const fmt = (s: number) => `${s.toFixed(2).padStart(6)} s ${Math.round(rows / s).toLocaleString("en-US").padStart(10)} rows/s`;
    console.log(`end to end (trigger → COMPLETED)      ${fmt(seconds)}`);
    if (loadingAt !== undefined) {
      console.log(`  extract + stage (to LOADING)        ${((loadingAt - start) / 1000).toFixed(2).padStart(6)} s`);
      console.log(`  load (LOADING → COMPLETED)          ${((start + seconds * 1000 - loadingAt) / 1000).toFixed(2).padStart(6)} s`);
    }
    console.log(`COPY of the same rows (same shape)    ${fmt(copySeconds)}`);
    console.log(`end to end vs COPY                    ${((copySeconds / seconds) * 100).toFixed(0)} %`);
    console.log(`Gantry process peak RSS               ${(peak / 1048576).toFixed(0)} MB`);
  } finally {
    await client.end().catch(() => undefined);
    await gantry?.stop();
    await admin.query(`drop database if exists "${dbName}" with (force)`);
    await admin.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
