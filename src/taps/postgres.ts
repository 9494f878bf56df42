/**
 * tap-postgres: a table or a query over a connection URL, full or incremental by a replication
 * key, read through a server-side cursor (`DECLARE … CURSOR`, `FETCH n`) in one read-only
 * repeatable-read transaction, so memory stays flat whatever the table's size.
 *
 * config (one stream at the top level, or several under `streams`):
 *   { "url": "postgresql://user@host/db",
 *     "streams": [ { "stream": "orders", "table": "public.orders", "replication_key": "updated_at",
 *                    "key_properties": ["id"] },
 *                  { "stream": "big_orders", "query": "select * from orders where amount > 100" } ],
 *     "bookmark_inclusive": true, "fetch_size": 2000 }
 * Incremental rows are those with `replication_key >= bookmark` (the Singer convention for
 * databases: a row committed later with the bookmarked value is not lost; the loader's upsert
 * absorbs the repeat), or `>` with `"bookmark_inclusive": false`. Key properties default to the
 * table's primary key.
 */
import pg from "pg";
import { isSelected, log, TapError, type JsonSchema, type SingerCatalog, type SingerState, type SingerWriter, type TapArgs } from "./singer-tap.js";

interface PgStream {
  stream: string;
  table: { schema: string; name: string } | undefined;
  query: string | undefined;
  keyProperties: string[] | undefined;
  replicationKey: string | undefined;
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function readStreams(config: Record<string, unknown>): PgStream[] {
  const list = (Array.isArray(config.streams) ? config.streams : [config]) as Array<Record<string, unknown>>;
  return list.map((raw, i) => {
    const at = Array.isArray(config.streams) ? `config.streams[${i}]` : "config";
    const table = typeof raw.table === "string" ? raw.table : undefined;
    const query = typeof raw.query === "string" ? raw.query : undefined;
    if (!table === !query) throw new TapError(`${at}: give exactly one of "table" or "query"`);
    const parts = table?.split(".");
    const parsed = parts ? (parts.length === 1 ? { schema: "public", name: parts[0]! } : { schema: parts[0]!, name: parts.slice(1).join(".") }) : undefined;
    const stream = (raw.stream as string | undefined) ?? parsed?.name;
    if (!stream) throw new TapError(`${at}.stream is required with a query`);
    const keys = raw.key_properties as string[] | undefined;
    if (keys !== undefined && (!Array.isArray(keys) || keys.some((k) => typeof k !== "string"))) throw new TapError(`${at}.key_properties must be a list of column names`);
    return { stream, table: parsed, query, keyProperties: keys, replicationKey: raw.replication_key as string | undefined };
  });
}

// Column types → JSON Schema, by type OID.
function schemaForType(oid: number): JsonSchema {
  switch (oid) {
    case 20: case 21: case 23: case 26:
      return { type: ["integer", "null"] };
    case 700: case 701: case 1700:
      return { type: ["number", "null"] };
    case 16:
      return { type: ["boolean", "null"] };
    case 1114: case 1184:
      return { type: ["string", "null"], format: "date-time" };
    case 1082:
      return { type: ["string", "null"], format: "date" };
    case 114: case 3802:
      return { type: ["object", "array", "string", "number", "boolean", "null"] };
    default:
      return { type: ["string", "null"] };
  }
}

/** Values as JSON wants them: exact integers stay numbers when safe, timestamps as ISO 8601 text. */
function typeParsers(): pg.CustomTypesConfig {
  const int8 = (text: string) => (Number.isSafeInteger(Number(text)) ? Number(text) : text);
  const parsers: Record<number, (text: string) => unknown> = {
    20: int8,
    1700: (text) => Number(text),
    1114: (text) => text.replace(" ", "T"),
    1184: (text) => text.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00"),
    1082: (text) => text,
  };
  return {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      parsers[oid] ?? pg.types.getTypeParser(oid, format ?? "text")) as pg.CustomTypesConfig["getTypeParser"],
  };
}

async function primaryKey(client: pg.Client, table: { schema: string; name: string }): Promise<string[]> {
  const { rows } = await client.query<{ attname: string }>(
    `select a.attname from pg_index i
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
      where i.indrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass and i.indisprimary
      order by array_position(i.indkey, a.attnum)`,
    [table.schema, table.name],
  );
  return rows.map((r) => r.attname);
}

function baseQuery(stream: PgStream): string {
  return stream.table ? `select * from ${quote(stream.table.schema)}.${quote(stream.table.name)}` : `select * from (${stream.query}) as src`;
}

async function describe(client: pg.Client, stream: PgStream): Promise<{ schema: JsonSchema; keys: string[] }> {
  const result = await client.query(`${baseQuery(stream)} limit 0`);
  const properties = Object.fromEntries(result.fields.map((f) => [f.name, schemaForType(f.dataTypeID)]));
  const keys = stream.keyProperties ?? (stream.table ? await primaryKey(client, stream.table) : []);
  for (const key of [...keys, ...(stream.replicationKey ? [stream.replicationKey] : [])]) {
    if (!(key in properties)) throw new TapError(`${stream.stream}: column "${key}" (a key or the replication key) is not in the result`);
  }
  return { schema: { type: "object", properties }, keys };
}

async function syncStream(client: pg.Client, stream: PgStream, state: SingerState & { bookmarks: Record<string, Record<string, unknown>> }, options: { inclusive: boolean; fetchSize: number }, out: SingerWriter): Promise<void> {
  const { schema, keys } = await describe(client, stream);
  await out.schema(stream.stream, schema, keys, stream.replicationKey ? [stream.replicationKey] : undefined);
  const rk = stream.replicationKey;
  const saved = state.bookmarks[stream.stream];
  const bookmark = rk && saved?.replication_key === rk ? saved.replication_key_value : undefined;
  let sql = baseQuery(stream);
  const params: unknown[] = [];
  if (rk) {
    if (bookmark !== undefined) {
      sql = `select * from (${sql}) as s where ${quote(rk)} ${options.inclusive ? ">=" : ">"} $1`;
      params.push(bookmark);
    }
    sql += ` order by ${quote(rk)}`;
  }
  let emitted = 0;
  let last = bookmark;
  await client.query("begin isolation level repeatable read read only");
  try {
    await client.query(`declare gantry_tap no scroll cursor for ${sql}`, params);
    for (;;) {
      const page = await client.query(`fetch ${options.fetchSize} from gantry_tap`);
      for (const row of page.rows as Array<Record<string, unknown>>) {
        const wait = out.record(stream.stream, row);
        if (wait) await wait;
        if (rk && row[rk] !== null && row[rk] !== undefined) last = row[rk];
      }
      emitted += page.rows.length;
      // Rows come in key order, so the last key of a page is a safe bookmark.
      if (rk && last !== undefined && page.rows.length > 0) {
        state.bookmarks[stream.stream] = { replication_key: rk, replication_key_value: last };
        await out.state(state);
      }
      if (page.rows.length < options.fetchSize) break;
    }
    await client.query("commit");
  } catch (err) {
    await client.query("rollback").catch(() => undefined);
    throw err;
  }
  await out.state(state);
  log(`tap-postgres: ${stream.stream}: ${emitted} records`);
}

export async function postgresTap(args: TapArgs, out: SingerWriter): Promise<void> {
  const url = args.config.url ?? args.config.connection_string;
  if (typeof url !== "string") throw new TapError("config.url (a postgresql:// URL) is required");
  const streams = readStreams(args.config);
  const fetchSize = typeof args.config.fetch_size === "number" ? args.config.fetch_size : 2000;
  const client = new pg.Client({ connectionString: url, types: typeParsers(), application_name: "tap-postgres" });
  try {
    await client.connect();
  } catch (err) {
    throw new TapError(`cannot connect: ${(err as Error).message}`);
  }
  try {
    if (args.discover) {
      const catalog: SingerCatalog = { streams: [] };
      for (const stream of streams) {
        const { schema, keys } = await describe(client, stream);
        catalog.streams.push({
          tap_stream_id: stream.stream,
          stream: stream.stream,
          schema,
          key_properties: keys,
          ...(stream.replicationKey ? { replication_key: stream.replicationKey } : {}),
          metadata: [{ breadcrumb: [], metadata: { selected: true, "table-key-properties": keys } }],
        });
      }
      process.stdout.write(JSON.stringify(catalog, null, 2) + "\n");
      return;
    }
    const state = { ...(args.state ?? {}), bookmarks: { ...(args.state?.bookmarks ?? {}) } };
    const options = { inclusive: args.config.bookmark_inclusive !== false, fetchSize };
    for (const stream of streams) {
      if (!isSelected(args.catalog, stream.stream)) {
        log(`tap-postgres: ${stream.stream} not selected; skipped`);
        continue;
      }
      await syncStream(client, stream, state, options, out);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
