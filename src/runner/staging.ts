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
 * On a PostgreSQL server (`copy`), a batch is a binary `COPY … FROM STDIN` instead
 * (pg-copy-streams, {@link CopyRows}): no json array for the server to parse and expand, and
 * records read raw (`readSingerBatchesRaw`) go in as the tap wrote them. Never on the embedded
 * database, which has no COPY (a COPY there hangs).
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
import { createIfMissing } from "./db.js";
import { protocolErrorOf, SingerProtocolError, type RawRecords, type RecordMessage, type SchemaMessage } from "./singer.js";

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
  stream: string;
  table: string;
  /** The records' JSON (INSERT staging). */
  records: string[];
  /** The batch as binary COPY rows (COPY staging). */
  copy: CopyRows | undefined;
  /** Ordinal of the first record of this batch within its stream. */
  first: number;
}

const COPY_CHUNK = 1024 * 1024;

/** COPY's binary format: the signature, flags and header extension length (both 0). */
const BINARY_HEADER = Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]);
/** The end of the rows: a field count of -1. */
const BINARY_TRAILER = Buffer.from([0xff, 0xff]);

/**
 * One stream's batch as the rows of a binary COPY (`run_id uuid, ordinal bigint, record jsonb`),
 * written straight into byte buffers: a raw record's bytes are copied as the tap wrote them
 * (never decoded, parsed or re-serialised), a parsed one is serialised once. Binary rather than
 * text: nothing to escape, and the server neither scans for delimiters nor unescapes (the
 * staging COPY measured 20–40 % less server CPU); a jsonb field is a version byte (1) and the
 * JSON text, which the server parses and checks (UTF-8 included) as for text input. The line
 * number of each raw record is kept, to name the line of one PostgreSQL refuses.
 */
class CopyRows {
  readonly chunks: Buffer[] = [];
  /** Per row: the tap's line of a raw record, 0 for a parsed one. */
  readonly lines: number[] = [];
  private buf = Buffer.allocUnsafe(COPY_CHUNK);
  private off = 0;
  bytes = 0;

  /** `head`: the row's field count, and run_id's length and value, and ordinal's length. */
  constructor(private readonly head: Buffer) {}

  /** Room for a row whose record has `length` bytes, and its fields up to the record's. */
  private row(ordinal: number, length: number): void {
    const need = this.head.length + 8 + 5 + length;
    if (this.off + need > this.buf.length) {
      if (this.off > 0) this.chunks.push(this.buf.subarray(0, this.off));
      this.buf = Buffer.allocUnsafe(Math.max(COPY_CHUNK, need));
      this.off = 0;
    }
    const buf = this.buf;
    buf.set(this.head, this.off);
    let off = this.off + this.head.length;
    const high = Math.floor(ordinal / 0x100000000);
    const low = ordinal >>> 0;
    buf[off++] = high >>> 24;
    buf[off++] = (high >>> 16) & 0xff;
    buf[off++] = (high >>> 8) & 0xff;
    buf[off++] = high & 0xff;
    buf[off++] = low >>> 24;
    buf[off++] = (low >>> 16) & 0xff;
    buf[off++] = (low >>> 8) & 0xff;
    buf[off++] = low & 0xff;
    const field = length + 1;
    buf[off++] = field >>> 24;
    buf[off++] = (field >>> 16) & 0xff;
    buf[off++] = (field >>> 8) & 0xff;
    buf[off++] = field & 0xff;
    buf[off++] = 1; // jsonb's binary version
    this.off = off;
    this.bytes += length;
  }

  raw(ordinal: number, src: Buffer, start: number, end: number, line: number): void {
    this.lines.push(line);
    this.row(ordinal, end - start);
    this.buf.set(src.subarray(start, end), this.off);
    this.off += end - start;
  }

  json(ordinal: number, json: string): void {
    this.lines.push(0);
    const length = Buffer.byteLength(json);
    this.row(ordinal, length);
    this.off += this.buf.write(json, this.off, "utf8");
  }

  /** The protocol error of the first raw record (before line `before`) that is not valid JSON. */
  malformed(stream: string, before = Infinity): SingerProtocolError | undefined {
    let row = 0;
    for (const chunk of [...this.chunks, this.buf.subarray(0, this.off)]) {
      for (let off = 0; off < chunk.length; ) {
        off += this.head.length + 8;
        const length = chunk.readInt32BE(off) - 1;
        off += 5;
        const line = this.lines[row++]!;
        if (line >= before) return undefined;
        if (line > 0) {
          const err = protocolErrorOf(stream, chunk.toString("utf8", off, off + length), line);
          if (err) return err;
        }
        off += length;
      }
    }
    return undefined;
  }

  /** The COPY data: header, rows, trailer. */
  end(): Buffer[] {
    if (this.off > 0) this.chunks.push(this.buf.subarray(0, this.off));
    this.off = 0;
    return [BINARY_HEADER, ...this.chunks, BINARY_TRAILER];
  }
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
  await createIfMissing(db, `create schema if not exists ${s}`);
  await createIfMissing(
    db,
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
  private readonly copyHead: Buffer;
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
    // Each binary row starts alike: 3 fields, the run id (16 bytes), the ordinal's length (8).
    const uuid = Buffer.from(options.copy ? options.runId.replace(/-/g, "") : "", "hex");
    if (options.copy && uuid.length !== 16) throw new Error(`run id ${options.runId} is not a uuid`);
    this.copyHead = Buffer.concat([Buffer.from([0, 3, 0, 0, 0, 16]), uuid, Buffer.from([0, 0, 0, 8])]);
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
    await createIfMissing(
      this.db,
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
      batch = { stream: stream.stream, table: stream.table, records: [], copy: this.options.copy ? new CopyRows(this.copyHead) : undefined, first: stream.rows + 1 };
      this.pending.set(message.stream, batch);
    }
    stream.rows++;
    this.pendingRows++;
    const json = JSON.stringify(message.record);
    if (batch.copy) batch.copy.json(stream.rows, json);
    else batch.records.push(json);
    this.pendingChars += json.length;
    if (this.pendingRows >= this.batchRows || this.pendingChars >= this.batchChars) return this.flush();
    return undefined;
  }

  /**
   * Records read raw (COPY staging only), from `group`'s record `from` on, until the batch is
   * full: returns the index of the next record to hand in and, when the batch was full, the
   * promise to await before (as {@link record}).
   */
  rawRecords(group: RawRecords, from: number): { next: number; wait?: Promise<void> } {
    const stream = this.streams.get(group.stream);
    if (!stream) throw new Error(`RECORD of stream "${group.stream}" before its SCHEMA`);
    if (!this.options.copy) throw new Error("raw records are staged by COPY only");
    let batch = this.pending.get(group.stream);
    if (!batch) {
      batch = { stream: stream.stream, table: stream.table, records: [], copy: new CopyRows(this.copyHead), first: stream.rows + 1 };
      this.pending.set(group.stream, batch);
    }
    const copy = batch.copy!;
    const { buf, starts, ends, lines } = group;
    for (let i = from; i < starts.length; i++) {
      copy.raw(++stream.rows, buf, starts[i]!, ends[i]!, lines[i]!);
      this.pendingRows++;
      this.pendingChars += ends[i]! - starts[i]!;
      if (this.pendingRows >= this.batchRows || this.pendingChars >= this.batchChars) return { next: i + 1, wait: this.flush() };
    }
    return { next: starts.length };
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

  /**
   * Waits for the batches in flight without writing what is pending (used when the run failed).
   * Returns the protocol error of the earliest line among the raw records PostgreSQL refused or
   * that were still pending, if any: a record the reader did not parse is checked only now, so
   * the run fails on the first bad line, as if every line had been parsed as it was read.
   */
  async abandon(): Promise<SingerProtocolError | undefined> {
    const pending = this.pending;
    this.pending = new Map();
    this.pendingRows = 0;
    await Promise.all(this.inFlight);
    let first = this.failure instanceof SingerProtocolError ? this.failure : undefined;
    for (const batch of pending.values()) first = batch.copy?.malformed(batch.stream, first?.line) ?? first;
    return first;
  }

  private async write(db: SqlClient, batch: Map<string, StreamBatch>): Promise<void> {
    await db.query("begin");
    try {
      for (const { table, records, first, copy } of batch.values()) {
        if (copy) await this.copy(db, table, copy);
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
      // A record PostgreSQL refused that the reader did not parse: the line's protocol error.
      for (const { stream, copy } of batch.values()) {
        const malformed = copy?.malformed(stream);
        if (malformed) throw malformed;
      }
      throw err;
    }
  }

  /** One stream's batch by `COPY … FROM STDIN` (binary format, see {@link CopyRows}). */
  private async copy(db: SqlClient, table: string, rows: CopyRows): Promise<void> {
    const sink = (db as unknown as { query(stream: ReturnType<typeof copyFrom>): ReturnType<typeof copyFrom> }).query(
      copyFrom(`copy ${this.schemaSql}.${quoteIdent(table)} (run_id, ordinal, record) from stdin with (format binary)`),
    );
    await pipeline(Readable.from(rows.end()), sink);
  }
}

/**
 * Deletes a run's rows from a staging table: a TRUNCATE when they are the only rows in it (no
 * dead rows left behind, nothing to vacuum; a 1M-row DELETE costs about 0.4 s of the server's
 * CPU), a DELETE otherwise. The table is locked first without waiting (another run staging or
 * loading into it keeps its lock; then this one deletes), so rows committed meanwhile by
 * another run cannot be truncated with ours.
 */
async function clearStagedRows(db: SqlClient, table: string, runId: string): Promise<void> {
  try {
    await db.query("begin");
    await db.query(`lock table ${table} in access exclusive mode nowait`);
    const { rows } = await db.query(
      `select exists (select 1 from ${table} where run_id < $1) or exists (select 1 from ${table} where run_id > $1) as others`,
      [runId],
    );
    if (rows[0].others) await db.query(`delete from ${table} where run_id = $1`, [runId]);
    else await db.query(`truncate ${table}`);
    await db.query("commit");
  } catch {
    await db.query("rollback").catch(() => undefined);
    await db.query(`delete from ${table} where run_id = $1`, [runId]);
  }
}

/** Deletes a run's staged rows (after it was loaded, or when it failed). */
export async function deleteStagedRun(db: SqlClient, schema: string, runId: string): Promise<void> {
  const s = quoteIdent(schema);
  const exists = await db.query(`select to_regclass($1) as t`, [`${s}.${quoteIdent(STREAMS_TABLE)}`]);
  if (!exists.rows[0]?.t) return;
  const { rows } = await db.query(`select table_name from ${s}.${quoteIdent(STREAMS_TABLE)} where run_id = $1`, [runId]);
  for (const { table_name } of rows as Array<{ table_name: string }>) await clearStagedRows(db, `${s}.${quoteIdent(table_name)}`, runId);
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
