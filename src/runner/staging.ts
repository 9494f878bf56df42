/**
 * Staging: a tap's records land in the tenant's staging schema for the connector's source
 * system (`stagingSchemaName`), one table per stream, before the loader maps them into the
 * lakehouse. Layout (see docs/RUNNER.md):
 *   <staging>."<stream table>"  (run_id uuid, ordinal bigint, record jsonb), UNLOGGED
 *   <staging>."_gantry_streams" (run_id, stream, table_name, key_properties, schema, rows)
 * Records are kept whole as jsonb, not typed columns: SCHEMA can change between runs and the
 * loader's CEL transforms read the record as it came (`row.field`).
 *
 * Tables are UNLOGGED: staging is transient (deleted once loaded) and a crash loses only runs
 * that are failing anyway, while skipping WAL roughly halves the cost of writing it.
 *
 * Writes are batches (rows or bytes, whichever fills first); each batch is one transaction
 * with one INSERT per stream that passes the whole batch as a single json parameter expanded
 * by `json_array_elements … with ordinality` (no 65,535-parameter limit, one round trip).
 * On a PostgreSQL server (`copy`), a batch is `COPY … FROM STDIN` instead (pg-copy-streams):
 * no json array for the server to parse and expand, about twice the rows per second. Never on
 * the embedded database, which has no COPY (a COPY there hangs).
 * Batches are written on one connection, or on several in parallel (`writers`: PostgreSQL
 * inserts on one backend per connection; two measured 45–70 % faster than one). While they are
 * being written the next batch is parsed; one more waits, so at most writers + 1 batches are in
 * memory and the tap is paused through the reader's back-pressure.
 */
import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { from as copyFrom } from "pg-copy-streams";
import { quoteIdent } from "../tenants/naming.js";
import type { RecordMessage, SchemaMessage } from "./singer.js";

/** The little of a pg client that staging needs (a `pg.Client`, or a pool's client). */
export interface SqlClient {
  query(text: string, params?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
}

export const STREAMS_TABLE = "_gantry_streams";

/** A safe table name for a stream: lowercased, other characters as `_`, a hash when it changed. */
export function stagingTableName(stream: string): string {
  let name = stream.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  if (!/^[a-z_]/.test(name)) name = `s_${name}`;
  if (name !== stream || name.length > 50 || name.startsWith("_gantry")) {
    const hash = createHash("sha256").update(stream).digest("hex").slice(0, 8);
    name = `${name.slice(0, 50)}_${hash}`;
  }
  return name;
}

export interface StagingOptions {
  /** The staging schema (already validated, e.g. from `stagingSchemaName`). */
  schema: string;
  runId: string;
  /** Rows per batch (default 10,000). */
  batchRows?: number;
  /** Characters of record JSON per batch (default 8 MB). */
  batchChars?: number;
  /** Extra connections that write batches in parallel with `db` (default none). */
  writers?: SqlClient[];
  /** Write batches with COPY FROM STDIN (a PostgreSQL server only: the embedded database has no COPY). */
  copy?: boolean;
}

interface StreamBatch {
  table: string;
  records: string[];
  /** Ordinal of the first record of this batch within its stream. */
  first: number;
}

export interface StagedStream {
  stream: string;
  table: string;
  keyProperties: string[];
  schema: SchemaMessage["schema"];
  rows: number;
}

/** Creates the staging schema and its stream catalogue table when missing. */
export async function ensureStagingSchema(db: SqlClient, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  await db.query(`create schema if not exists ${s}`);
  await db.query(
    `create table if not exists ${s}.${quoteIdent(STREAMS_TABLE)} (
       run_id uuid not null, stream text not null, table_name text not null,
       key_properties jsonb not null, schema jsonb not null, rows bigint not null default 0,
       primary key (run_id, stream))`,
  );
}

export class StagingWriter {
  private readonly schemaSql: string;
  private readonly batchRows: number;
  private readonly batchChars: number;
  private readonly streams = new Map<string, StagedStream>();
  private pending = new Map<string, StreamBatch>();
  private pendingRows = 0;
  private pendingChars = 0;
  private readonly writers: SqlClient[];
  /** The batch being written on each writer, if any. */
  private readonly inFlight: Array<Promise<void> | undefined>;
  private failure: unknown;
  /** Rows committed to staging so far. */
  stagedRows = 0;

  constructor(
    private readonly db: SqlClient,
    private readonly options: StagingOptions,
  ) {
    this.schemaSql = quoteIdent(options.schema);
    this.batchRows = options.batchRows ?? 10_000;
    this.batchChars = options.batchChars ?? 8 * 1024 * 1024;
    this.writers = [db, ...(options.writers ?? [])];
    this.inFlight = this.writers.map(() => undefined);
  }

  /** Waits for every batch in flight; throws the first write failure. */
  private async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** A SCHEMA message: creates the stream's table when missing and records its keys and schema. */
  async schema(message: SchemaMessage): Promise<void> {
    const known = this.streams.get(message.stream);
    const table = known?.table ?? stagingTableName(message.stream);
    // Records of the previous SCHEMA go out first, so a batch never straddles a schema change,
    // and the DDL below must not interleave with a batch's transaction on this connection.
    await this.flush();
    await this.drain();
    await this.db.query(
      `create unlogged table if not exists ${this.schemaSql}.${quoteIdent(table)} (
         run_id uuid not null, ordinal bigint not null, record jsonb not null, primary key (run_id, ordinal))`,
    );
    await this.db.query(
      `insert into ${this.schemaSql}.${quoteIdent(STREAMS_TABLE)} (run_id, stream, table_name, key_properties, schema)
       values ($1, $2, $3, $4, $5)
       on conflict (run_id, stream) do update set key_properties = excluded.key_properties, schema = excluded.schema`,
      [this.options.runId, message.stream, table, JSON.stringify(message.key_properties), JSON.stringify(message.schema)],
    );
    this.streams.set(message.stream, { stream: message.stream, table, keyProperties: message.key_properties, schema: message.schema, rows: known?.rows ?? 0 });
  }

  /**
   * A RECORD message. Returns a promise only when a full batch had to wait for the previous one
   * to be written; the caller awaits it, which is what pauses the tap.
   */
  record(message: RecordMessage): Promise<void> | undefined {
    const stream = this.streams.get(message.stream);
    if (!stream) throw new Error(`RECORD of stream "${message.stream}" before its SCHEMA`);
    let batch = this.pending.get(message.stream);
    if (!batch) {
      batch = { table: stream.table, records: [], first: stream.rows + 1 };
      this.pending.set(message.stream, batch);
    }
    const json = JSON.stringify(message.record);
    batch.records.push(json);
    stream.rows++;
    this.pendingRows++;
    this.pendingChars += json.length;
    if (this.pendingRows >= this.batchRows || this.pendingChars >= this.batchChars) return this.flush();
    return undefined;
  }

  /** Hands the pending batch to a free writer, after waiting for one when all are busy. */
  async flush(): Promise<void> {
    let free = this.inFlight.findIndex((w) => w === undefined);
    while (free < 0) {
      await Promise.race(this.inFlight);
      free = this.inFlight.findIndex((w) => w === undefined);
    }
    if (this.failure) throw this.failure;
    if (this.pendingRows === 0) return;
    const batch = this.pending;
    const rows = this.pendingRows;
    this.pending = new Map();
    this.pendingRows = 0;
    this.pendingChars = 0;
    this.inFlight[free] = this.write(this.writers[free]!, batch).then(
      () => {
        this.stagedRows += rows;
        this.inFlight[free] = undefined;
      },
      (err: unknown) => {
        this.failure ??= err;
        this.inFlight[free] = undefined;
      },
    );
  }

  /** Writes what is pending, waits for it, records row counts; returns the streams staged. */
  async finish(): Promise<StagedStream[]> {
    await this.flush();
    await this.drain();
    for (const stream of this.streams.values()) {
      await this.db.query(`update ${this.schemaSql}.${quoteIdent(STREAMS_TABLE)} set rows = $3 where run_id = $1 and stream = $2`, [
        this.options.runId,
        stream.stream,
        stream.rows,
      ]);
    }
    return [...this.streams.values()];
  }

  /** Waits for the batch in flight without writing what is pending (used when the run failed). */
  async abandon(): Promise<void> {
    this.pending = new Map();
    this.pendingRows = 0;
    await Promise.all(this.inFlight);
  }

  private async write(db: SqlClient, batch: Map<string, StreamBatch>): Promise<void> {
    await db.query("begin");
    try {
      for (const { table, records, first } of batch.values()) {
        if (this.options.copy) await this.copy(db, table, records, first);
        else {
          await db.query(
            `insert into ${this.schemaSql}.${quoteIdent(table)} (run_id, ordinal, record)
             select $1, $2::bigint + e.n - 1, e.value::jsonb from json_array_elements($3::json) with ordinality as e(value, n)`,
            [this.options.runId, first, `[${records.join(",")}]`],
          );
        }
      }
      await db.query("commit");
    } catch (err) {
      await db.query("rollback").catch(() => undefined);
      throw err;
    }
  }

  /**
   * One stream's batch as COPY text: `run_id \t ordinal \t record`. JSON.stringify escapes every
   * control character, so the only character COPY's text format needs escaped is the backslash.
   */
  private async copy(db: SqlClient, table: string, records: string[], first: number): Promise<void> {
    const prefix = `${this.options.runId}\t`;
    const chunks = function* (): Generator<string> {
      const size = 2000;
      for (let start = 0; start < records.length; start += size) {
        let text = "";
        const end = Math.min(records.length, start + size);
        for (let i = start; i < end; i++) {
          const json = records[i]!;
          text += `${prefix}${first + i}\t${json.includes("\\") ? json.replace(/\\/g, "\\\\") : json}\n`;
        }
        yield text;
      }
    };
    const sink = (db as unknown as { query(stream: ReturnType<typeof copyFrom>): ReturnType<typeof copyFrom> }).query(
      copyFrom(`copy ${this.schemaSql}.${quoteIdent(table)} (run_id, ordinal, record) from stdin`),
    );
    await pipeline(Readable.from(chunks()), sink);
  }
}

/** Deletes a run's staged rows (after it was loaded, or when it failed). */
export async function deleteStagedRun(db: SqlClient, schema: string, runId: string): Promise<void> {
  const s = quoteIdent(schema);
  const exists = await db.query(`select to_regclass($1) as t`, [`${s}.${quoteIdent(STREAMS_TABLE)}`]);
  if (!exists.rows[0]?.t) return;
  const { rows } = await db.query(`select table_name from ${s}.${quoteIdent(STREAMS_TABLE)} where run_id = $1`, [runId]);
  for (const { table_name } of rows as Array<{ table_name: string }>) {
    await db.query(`delete from ${s}.${quoteIdent(table_name)} where run_id = $1`, [runId]);
  }
  await db.query(`delete from ${s}.${quoteIdent(STREAMS_TABLE)} where run_id = $1`, [runId]);
}

/** The streams a run staged (for the loader). */
export async function stagedStreams(db: SqlClient, schema: string, runId: string): Promise<StagedStream[]> {
  const s = quoteIdent(schema);
  const exists = await db.query(`select to_regclass($1) as t`, [`${s}.${quoteIdent(STREAMS_TABLE)}`]);
  if (!exists.rows[0]?.t) return [];
  const { rows } = await db.query(
    `select stream, table_name, key_properties, schema, rows from ${s}.${quoteIdent(STREAMS_TABLE)} where run_id = $1 order by stream`,
    [runId],
  );
  return (rows as Array<{ stream: string; table_name: string; key_properties: string[]; schema: StagedStream["schema"]; rows: string }>).map((r) => ({
    stream: r.stream,
    table: r.table_name,
    keyProperties: r.key_properties,
    schema: r.schema,
    rows: Number(r.rows),
  }));
}
