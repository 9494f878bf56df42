/**
 * A 1,000,000-row tap-synthetic sync end to end through a real Gantry (every role in this
 * process): GraphQL trigger → scheduler → runner (tap process → reader → staging) → signed
 * webhook → loader job (mapping, upsert into the lakehouse table) → COMPLETED. Compared with
 * PostgreSQL COPY of the same rows into a table of the same shape, measured in the same run.
 * Reports this process's peak RSS (runner, loader and api together; the tap is its own process).
 *
 *   npm run build && node dist/bench/sync.js [rows=1000000] [--mapped]
 *   npm run bench -- --only=sync   (in the orchestrator; --quick: 200,000 rows)
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

import type { ScenarioResult } from "./run.js";
import { ADMIN_URL, databaseUrl, quick, table } from "./lib.js";
import { copyText } from "./copy.js";

const dbName = `gantry_bench_sync_${process.pid}`;

/**
 * CPU seconds so far of this process, of its reaped children (the tap), and of the PostgreSQL
 * backends serving `database` (when the server runs on this host and /proc is readable; else
 * undefined). CPU is the figure to compare on a shared machine, where wall time is noisy.
 */
async function cpuSeconds(client: pg.Client, database: string): Promise<{ gantry: number; tap?: number; postgres?: number }> {
  const usage = process.cpuUsage();
  const out: { gantry: number; tap?: number; postgres?: number } = { gantry: (usage.user + usage.system) / 1e6 };
  const ticks = (pid: string | number, fields: number[]) => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(")").pop()!.trim().split(" ");
    return fields.reduce((sum, f) => sum + Number(stat[f]), 0) / 100;
  };
  try {
    out.tap = ticks("self", [13, 14]);
    const { rows } = await client.query(`select pid from pg_stat_activity where datname = $1`, [database]);
    let postgres = 0;
    for (const { pid } of rows as Array<{ pid: number }>) postgres += ticks(pid, [11, 12]);
    out.postgres = postgres;
  } catch {
    // Not Linux, or PostgreSQL elsewhere: wall time only.
  }
  return out;
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

export interface SyncBenchOptions {
  rows?: number;
  mapped?: boolean;
}

/** The scenario (also `npm run bench -- --only=sync`): rows per second, ratio to COPY, peak RSS. */
export async function run(options: SyncBenchOptions = {}): Promise<ScenarioResult> {
  const rows = options.rows ?? (quick() ? 20_000 : 1_000_000);
  const mapped = options.mapped ?? false;
  const out: Record<string, string | number>[] = [];
  const figures: Record<string, number> = {};
  let cpuNote = "";
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-bench-sync-"));
  const client = new pg.Client({ connectionString: databaseUrl(dbName) });
  let gantry: Awaited<ReturnType<typeof startGantry>> | undefined;
  try {
    const config = loadConfig({
      DATABASE_URL: databaseUrl(dbName),
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

    const cpuBefore = await cpuSeconds(client, dbName);
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
    const cpuAfter = await cpuSeconds(client, dbName);
    if (run.status !== "COMPLETED" || Number(run.rows_loaded) !== rows) throw new Error(`run ended ${JSON.stringify(run)}`);
    const [{ n }] = (await client.query(`select count(*)::int as n from gantry_tenant_bench.synthetic`)).rows;
    if (n !== rows) throw new Error(`destination holds ${n} rows`);

    await client.query(`create table copy_baseline (id bigint primary key, name text, amount double precision, created_at timestamptz)`);
    const copyStart = performance.now();
    await pipeline(Readable.from(copyText(rows)), client.query(copyFrom(`copy copy_baseline from stdin`)));
    const copySeconds = (performance.now() - copyStart) / 1000;

    const perSecond = (x: number) => Math.round(rows / x);
    out.push({ measure: `sync ${rows.toLocaleString("en-US")} rows${mapped ? " (CEL-mapped)" : ""}, trigger → COMPLETED`, seconds: seconds.toFixed(2), "rows/s": perSecond(seconds) });
    if (loadingAt !== undefined) {
      out.push({ measure: "  extract + stage (to LOADING)", seconds: ((loadingAt - start) / 1000).toFixed(2), "rows/s": "" });
      out.push({ measure: "  load (LOADING → COMPLETED)", seconds: ((start + seconds * 1000 - loadingAt) / 1000).toFixed(2), "rows/s": "" });
    }
    out.push({ measure: "COPY of the same rows (same shape)", seconds: copySeconds.toFixed(2), "rows/s": perSecond(copySeconds) });
    figures.rows = rows;
    figures.syncRowsPerSecond = perSecond(seconds);
    figures.copyRowsPerSecond = perSecond(copySeconds);
    figures.syncVsCopyPercent = Math.round((copySeconds / seconds) * 100);
    figures.peakRssMb = Math.round(peak / 1048576);
    const spent = (k: "gantry" | "tap" | "postgres") => (cpuAfter[k] !== undefined && cpuBefore[k] !== undefined ? (cpuAfter[k]! - cpuBefore[k]!).toFixed(2) : "?");
    cpuNote = `CPU seconds, trigger → COMPLETED: Gantry process ${spent("gantry")}, tap ${spent("tap")}, PostgreSQL backends ${spent("postgres")} (backends that ended before COMPLETED are not counted; on a shared machine compare these, not wall time)`;
  } finally {
    await client.end().catch(() => undefined);
    await gantry?.stop();
    await admin.query(`drop database if exists "${dbName}" with (force)`);
    await admin.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return {
    rows: out,
    figures,
    notes: [
      `end to end vs COPY: ${figures.syncVsCopyPercent} % (aim: 50,000 rows/s or more and 30 % of COPY or more, same run)`,
      `Gantry process peak RSS (runner, loader and api together; the tap is its own process): ${figures.peakRssMb} MB`,
      ...(cpuNote ? [cpuNote] : []),
    ],
  };
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const rowsArg = process.argv.slice(2).find((a) => /^\d+$/.test(a));
  const result = await run({ rows: rowsArg ? Number(rowsArg) : undefined, mapped: process.argv.includes("--mapped") });
  process.stdout.write(table(result.rows) + "\n");
  for (const note of result.notes ?? []) process.stdout.write(`- ${note}\n`);
}
