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
  /** The batch as COPY text (COPY staging). */
  copy: CopyText | undefined;
  /** Ordinal of the first record of this batch within its stream. */
  first: number;
}

const COPY_CHUNK = 1024 * 1024;

/**
 * One stream's batch as COPY text, `run_id \t ordinal \t record \n` rows written straight into
 * byte buffers: a raw record's bytes are copied as the tap wrote them (never decoded, parsed or
 * re-serialised); a parsed one is serialised once. JSON escapes every control character, and
 * the reader sends lines with raw control characters the parsing way, so the only byte COPY's
 * text format needs escaped is the backslash. The line number of each raw record is kept, to
 * name the line of one PostgreSQL refuses.
 */
class CopyText {
  readonly chunks: Buffer[] = [];
  /** Per row: the tap's line of a raw record, 0 for a parsed one. */
  readonly lines: number[] = [];
  private buf = Buffer.allocUnsafe(COPY_CHUNK);
  private off = 0;
  bytes = 0;

  constructor(private readonly prefix: Buffer) {}

  private reserve(n: number): void {
    if (this.off + n <= this.buf.length) return;
    if (this.off > 0) this.chunks.push(this.buf.subarray(0, this.off));
    this.buf = Buffer.allocUnsafe(Math.max(COPY_CHUNK, n));
    this.off = 0;
  }

  /** Writes the row's `run_id \t ordinal \t`; `room` is what the record will need. */
  private head(ordinal: number, room: number): void {
    this.reserve(this.prefix.length + 21 + room);
    const buf = this.buf;
    buf.set(this.prefix, this.off);
    let off = this.off + this.prefix.length;
    const digits = ordinal < 10 ? 1 : Math.floor(Math.log10(ordinal)) + 1;
    for (let i = digits - 1, n = ordinal; i >= 0; i--, n = Math.floor(n / 10)) buf[off + i] = 48 + (n % 10);
    off += digits;
    buf[off++] = 0x09;
    this.off = off;
  }

  raw(ordinal: number, src: Buffer, start: number, end: number, line: number): void {
    this.lines.push(line);
    const length = end - start;
    const slash = src.indexOf(0x5c, start);
    if (slash < 0 || slash >= end) {
      this.head(ordinal, length + 1);
      const buf = this.buf;
      let off = this.off;
      buf.set(src.subarray(start, end), off);
      this.off = off + length;
    } else {
      this.head(ordinal, length * 2 + 1);
      const buf = this.buf;
      let off = this.off;
      for (let i = start; i < end; i++) {
        const b = src[i]!;
        buf[off++] = b;
        if (b === 0x5c) buf[off++] = 0x5c;
      }
      this.off = off;
    }
    this.buf[this.off++] = 0x0a;
    this.bytes += length;
  }

  json(ordinal: number, json: string): void {
    this.lines.push(0);
    const text = json.includes("\\") ? json.replace(/\\/g, "\\\\") : json;
    const room = Buffer.byteLength(text);
    this.head(ordinal, room + 1);
    this.off += this.buf.write(text, this.off, "utf8");
    this.buf[this.off++] = 0x0a;
    this.bytes += room;
  }

  /** The protocol error of the first raw record that is not valid JSON, if any. */
  malformed(stream: string, before = Infinity): SingerProtocolError | undefined {
    let row = 0;
    for (const chunk of [...this.chunks, this.buf.subarray(0, this.off)]) {
      for (const text of chunk.toString("utf8").split("\n")) {
        if (text === "") continue;
        const line = this.lines[row++]!;
        if (line === 0) continue;
        if (line >= before) return undefined;
        const record = text.slice(text.indexOf("\t", text.indexOf("\t") + 1) + 1).replace(/\\\\/g, "\\");
        const err = protocolErrorOf(stream, record, line);
        if (err) return err;
      }
    }
    return undefined;
  }

  end(): Buffer[] {
    if (this.off > 0) this.chunks.push(this.buf.subarray(0, this.off));
    this.off = 0;
    return this.chunks;
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
  private readonly copyPrefix: Buffer;
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
    this.copyPrefix = Buffer.from(`${options.runId}\t`);
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
      batch = { stream: stream.stream, table: stream.table, records: [], copy: this.options.copy ? new CopyText(this.copyPrefix) : undefined, first: stream.rows + 1 };
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
      batch = { stream: stream.stream, table: stream.table, records: [], copy: new CopyText(this.copyPrefix), first: stream.rows + 1 };
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

  /** One stream's batch by `COPY … FROM STDIN` (text format, see {@link CopyText}). */
  private async copy(db: SqlClient, table: string, text: CopyText): Promise<void> {
    const sink = (db as unknown as { query(stream: ReturnType<typeof copyFrom>): ReturnType<typeof copyFrom> }).query(
      copyFrom(`copy ${this.schemaSql}.${quoteIdent(table)} (run_id, ordinal, record) from stdin`),
    );
    await pipeline(Readable.from(text.end()), sink);
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
