/**
 * tap-csv: one stream per CSV file (first line is the header).
 *
 * config:
 *   { "files": [ { "path": "/data/orders.csv", "stream": "orders", "key_properties": ["id"],
 *                  "replication_key": "id", "types": { "id": "integer", "amount": "number" },
 *                  "delimiter": "," } ],
 *     "bookmark_inclusive": false }
 * (`entity`/`keys` are accepted for `stream`/`key_properties`, as in MeltanoLabs' tap-csv.)
 * Values are strings unless `types` says `integer`, `number`, `boolean` or `date-time`; an empty
 * cell of a typed column is null; a cell that does not convert fails the tap naming file and line.
 * Incremental: with a `replication_key`, only rows whose key is greater than the bookmark
 * (`>=` with `bookmark_inclusive`) are emitted, and the bookmark is the largest key seen.
 */
import fs from "node:fs";
import path from "node:path";
import { parse } from "csv-parse";
import { isSelected, log, TapError, type JsonSchema, type SingerCatalog, type SingerState, type SingerWriter, type TapArgs } from "./singer-tap.js";

type ColumnType = "string" | "integer" | "number" | "boolean" | "date-time";
const COLUMN_TYPES: ColumnType[] = ["string", "integer", "number", "boolean", "date-time"];
const STATE_EVERY = 10_000;

interface CsvFile {
  path: string;
  stream: string;
  keyProperties: string[];
  replicationKey: string | undefined;
  types: Record<string, ColumnType>;
  delimiter: string;
}

function readFiles(config: Record<string, unknown>): CsvFile[] {
  const files = config.files;
  if (!Array.isArray(files) || files.length === 0) throw new TapError('config.files must list at least one { "path": ... }');
  return files.map((raw: Record<string, unknown>, i) => {
    const at = `config.files[${i}]`;
    if (typeof raw !== "object" || raw === null || typeof raw.path !== "string") throw new TapError(`${at}.path is required`);
    const stream = (raw.stream ?? raw.entity ?? path.basename(raw.path).replace(/\.[^.]*$/, "")) as string;
    const keys = (raw.key_properties ?? raw.keys ?? []) as string[];
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== "string")) throw new TapError(`${at}.key_properties must be a list of column names`);
    const types = (raw.types ?? {}) as Record<string, ColumnType>;
    for (const [column, type] of Object.entries(types)) {
      if (!COLUMN_TYPES.includes(type)) throw new TapError(`${at}.types.${column} must be one of ${COLUMN_TYPES.join(", ")}`);
    }
    const replicationKey = raw.replication_key as string | undefined;
    return { path: raw.path, stream, keyProperties: keys, replicationKey, types, delimiter: (raw.delimiter as string) ?? "," };
  });
}

function jsonSchemaFor(type: ColumnType): JsonSchema {
  if (type === "date-time") return { type: ["string", "null"], format: "date-time" };
  return { type: type === "string" ? ["string", "null"] : [type, "null"] };
}

function convert(type: ColumnType, value: string, where: string): unknown {
  if (type === "string") return value;
  if (value === "") return null;
  switch (type) {
    case "integer":
      if (!/^[+-]?\d+$/.test(value.trim())) throw new TapError(`${where}: "${value}" is not an integer`);
      return Number(value);
    case "number": {
      const n = Number(value);
      if (value.trim() === "" || !Number.isFinite(n)) throw new TapError(`${where}: "${value}" is not a number`);
      return n;
    }
    case "boolean":
      if (/^(true|t|1|yes)$/i.test(value)) return true;
      if (/^(false|f|0|no)$/i.test(value)) return false;
      throw new TapError(`${where}: "${value}" is not a boolean`);
    case "date-time":
      if (Number.isNaN(Date.parse(value))) throw new TapError(`${where}: "${value}" is not a date-time`);
      return value;
  }
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function discover(files: CsvFile[]): SingerCatalog {
  return {
    streams: files.map((file) => {
      const header = fs.readFileSync(file.path, "utf8").split(/\r?\n/, 1)[0] ?? "";
      const columns = header.split(file.delimiter).map((c) => c.replace(/^"|"$/g, "").trim());
      const properties = Object.fromEntries(columns.map((c) => [c, jsonSchemaFor(file.types[c] ?? "string")]));
      return {
        tap_stream_id: file.stream,
        stream: file.stream,
        schema: { type: "object", properties },
        key_properties: file.keyProperties,
        ...(file.replicationKey ? { replication_key: file.replicationKey } : {}),
        metadata: [{ breadcrumb: [], metadata: { selected: true, "table-key-properties": file.keyProperties } }],
      };
    }),
  };
}

async function syncFile(file: CsvFile, state: SingerState & { bookmarks: Record<string, Record<string, unknown>> }, inclusive: boolean, out: SingerWriter): Promise<void> {
  const saved = state.bookmarks[file.stream];
  const bookmark = file.replicationKey && saved?.replication_key === file.replicationKey ? saved.replication_key_value : undefined;
  let header: string[] | undefined;
  const input = fs.createReadStream(file.path);
  const parser = input.pipe(
    parse({ delimiter: file.delimiter, bom: true, skip_empty_lines: true, info: true, columns: (h: string[]) => (header = h.map((c) => c.trim())) }),
  );
  // `pipe` does not forward the source's errors (a missing file): fail the parser with them.
  input.once("error", (err) => parser.destroy(new TapError(`${file.path}: ${err.message}`)));
  let schemaSent = false;
  const sendSchema = async () => {
    if (schemaSent) return;
    schemaSent = true;
    for (const key of [...file.keyProperties, ...(file.replicationKey ? [file.replicationKey] : [])]) {
      if (!header!.includes(key)) throw new TapError(`${file.path}: column "${key}" (a key or the replication key) is not in the header`);
    }
    const properties = Object.fromEntries(header!.map((c) => [c, jsonSchemaFor(file.types[c] ?? "string")]));
    await out.schema(file.stream, { type: "object", properties }, file.keyProperties, file.replicationKey ? [file.replicationKey] : undefined);
  };
  let max = bookmark;
  let sorted = true;
  let emitted = 0;
  const setBookmark = () => {
    if (file.replicationKey && max !== undefined) {
      state.bookmarks[file.stream] = { replication_key: file.replicationKey, replication_key_value: max };
    }
  };
  for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    await sendSchema();
    const row: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(record)) row[column] = convert(file.types[column] ?? "string", value, `${file.path}:${info.lines} column ${column}`);
    if (file.replicationKey) {
      const value = row[file.replicationKey];
      if (value === null || value === undefined) throw new TapError(`${file.path}:${info.lines}: replication key "${file.replicationKey}" is empty`);
      if (bookmark !== undefined) {
        const c = compare(value, bookmark);
        if (c < 0 || (c === 0 && !inclusive)) continue;
      }
      if (max === undefined || compare(value, max) >= 0) max = value;
      else sorted = false;
    }
    const wait = out.record(file.stream, row);
    if (wait) await wait;
    emitted++;
    // A mid-file bookmark is only safe while the rows arrive in key order.
    if (emitted % STATE_EVERY === 0 && sorted && file.replicationKey) {
      setBookmark();
      await out.state(state);
    }
  }
  if (header) await sendSchema();
  setBookmark();
  await out.state(state);
  log(`tap-csv: ${file.stream}: ${emitted} records from ${file.path}`);
}

export async function csvTap(args: TapArgs, out: SingerWriter): Promise<void> {
  const files = readFiles(args.config);
  if (args.discover) {
    process.stdout.write(JSON.stringify(discover(files), null, 2) + "\n");
    return;
  }
  const state = { ...(args.state ?? {}), bookmarks: { ...(args.state?.bookmarks ?? {}) } };
  const inclusive = args.config.bookmark_inclusive === true;
  for (const file of files) {
    if (!isSelected(args.catalog, file.stream)) {
      log(`tap-csv: ${file.stream} not selected; skipped`);
      continue;
    }
    await syncFile(file, state, inclusive, out);
  }
}
