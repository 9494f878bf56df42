/**
 * Staging throughput: N tap-synthetic rows through the real path (tap process → Singer reader →
 * batched jsonb INSERTs into an unlogged staging table), against PostgreSQL COPY of the same
 * rows measured in the same run, and the reading process's peak RSS while staging.
 *
 *   npm run build && node dist/bench/staging.js [rows=1000000] [batchRows=10000] [--one]
 * (`--one`: batches written on one connection instead of two in parallel.)
 * Uses BENCH_DATABASE_URL (default postgresql://root@127.0.0.1:5432/postgres) to create and drop
 * a scratch database.
 */
import { randomUUID } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { syncToStaging } from "../src/runner/sync.js";
import { TapRegistry } from "../src/runner/tap-registry.js";
import { syntheticRow } from "../src/taps/synthetic.js";
import { copyText } from "./copy.js";
import { ADMIN_URL, databaseUrl } from "./lib.js";

const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const rows = numbers[0] ?? 1_000_000;
const batchRows = numbers[1] ?? 10_000;
const dbName = `gantry_bench_staging_${process.pid}`;

function* copyJson(n: number): Generator<string> {
  let chunk = "";
  for (let id = 1; id <= n; id++) {
    // COPY text format: backslashes would need escaping; synthetic rows have none.
    chunk += `${id}\t${JSON.stringify(syntheticRow(id))}\n`;
    if (chunk.length > 64 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

async function timed(label: string, fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label.padEnd(48)} ${seconds.toFixed(2).padStart(7)} s  ${Math.round(rows / seconds).toLocaleString("en-US").padStart(10)} rows/s`);
  return seconds;
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database "${dbName}"`);
  const client = new pg.Client({ connectionString: databaseUrl(dbName) });
  await client.connect();
  const writer = new pg.Client({ connectionString: databaseUrl(dbName) });
  await writer.connect();
  try {
    console.log(`${rows.toLocaleString("en-US")} rows, staging batches of ${batchRows.toLocaleString("en-US")}`);
    const tap = new TapRegistry().resolve({ tapName: "tap-synthetic" });
    let peak = process.memoryUsage().rss;
    const baseline = peak;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    // Both ways of writing batches in one run: INSERT (the embedded database's) and COPY (a server's).
    const stage = (copy: boolean) => async () => {
      const result = await syncToStaging({
        db: client,
        tap,
        configJson: JSON.stringify({ rows }),
        stagingSchema: "gantry_staging_bench_synthetic",
        runId: randomUUID(),
        timeoutMs: 3_600_000,
        batchRows,
        writers: process.argv.includes("--one") ? [] : [writer],
        copy,
      });
      if (result.rowsSynced !== rows) throw new Error(`staged ${result.rowsSynced}, expected ${rows}`);
    };
    // The second write lands in a bigger table: `--copy-first` swaps the order to check for that.
    const copyFirst = process.argv.includes("--copy-first");
    const staging = copyFirst ? await timed("staging, COPY batches (tap → reader → jsonb)", stage(true)) : 0;
    const inserted = await timed("staging, INSERT batches (embedded database's way)", stage(false));
    const copied = copyFirst ? staging : await timed("staging, COPY batches (tap → reader → jsonb)", stage(true));
    clearInterval(sampler);

    await client.query(`create table copy_typed (id bigint primary key, name text, amount numeric, created_at timestamptz)`);
    const copy = await timed("COPY typed rows into a logged table with a key", () =>
      pipeline(Readable.from(copyText(rows)), client.query(copyFrom(`copy copy_typed from stdin`))),
    );
    await client.query(`create unlogged table copy_staging (ordinal bigint primary key, record jsonb)`);
    const copyStaging = await timed("COPY the same jsonb into an unlogged staging table", () =>
      pipeline(Readable.from(copyJson(rows)), client.query(copyFrom(`copy copy_staging from stdin`))),
    );
    console.log(`COPY staging vs INSERT staging:     ${((inserted / copied) * 100).toFixed(0)} %`);
    console.log(`staging vs COPY (typed, logged):    ${((copy / copied) * 100).toFixed(0)} %`);
    console.log(`staging vs COPY (staging shape):    ${((copyStaging / copied) * 100).toFixed(0)} %`);
    console.log(`reader peak RSS while staging:      ${(peak / 1048576).toFixed(0)} MB (${(baseline / 1048576).toFixed(0)} MB before)`);
  } finally {
    await client.end();
    await writer.end();
    await admin.query(`drop database if exists "${dbName}" with (force)`);
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
