/**
 * tap-synthetic: N deterministic rows for tests and benchmarks.
 *   config `{ "rows": N }`; stream `synthetic`; fields id (integer, key), name (string),
 *   amount (number), created_at (date-time). Row i is always the same row.
 * Incremental by `id`: with a STATE bookmark it resumes after the bookmarked id, so a second
 * sync of the same N emits nothing new. STATE every 10,000 rows and at the end.
 */
import { isSelected, log, TapError, type JsonSchema, type SingerCatalog, type SingerWriter, type TapArgs } from "./singer-tap.js";

const STREAM = "synthetic";
const STATE_EVERY = 10_000;
const EPOCH = Date.UTC(2024, 0, 1);

export const SYNTHETIC_SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    name: { type: "string" },
    amount: { type: "number" },
    created_at: { type: "string", format: "date-time" },
  },
};

/** Row `id` of the synthetic stream (exported so tests and benches can check what arrived). */
export function syntheticRow(id: number): { id: number; name: string; amount: number; created_at: string } {
  return { id, name: `name-${id}`, amount: ((id * 7919) % 100_000) / 100, created_at: new Date(EPOCH + id * 1000).toISOString() };
}

function catalog(): SingerCatalog {
  return {
    streams: [
      {
        tap_stream_id: STREAM,
        stream: STREAM,
        schema: SYNTHETIC_SCHEMA,
        key_properties: ["id"],
        replication_key: "id",
        metadata: [{ breadcrumb: [], metadata: { selected: true, "table-key-properties": ["id"], "valid-replication-keys": ["id"] } }],
      },
    ],
  };
}

function bookmark(id: number): Record<string, unknown> {
  return { bookmarks: { [STREAM]: { replication_key: "id", replication_key_value: id } } };
}

export async function syntheticTap(args: TapArgs, out: SingerWriter): Promise<void> {
  if (args.discover) {
    process.stdout.write(JSON.stringify(catalog(), null, 2) + "\n");
    return;
  }
  const rows = args.config.rows;
  if (typeof rows !== "number" || !Number.isSafeInteger(rows) || rows < 0) {
    throw new TapError('config.rows must be a non-negative integer, e.g. { "rows": 1000 }');
  }
  if (!isSelected(args.catalog, STREAM)) {
    log("tap-synthetic: stream synthetic not selected in the catalog; nothing to do");
    return;
  }
  const saved = args.state?.bookmarks?.[STREAM]?.replication_key_value;
  const start = typeof saved === "number" && Number.isSafeInteger(saved) ? saved + 1 : 1;
  log(`tap-synthetic: emitting ids ${start}..${rows}`);
  await out.schema(STREAM, SYNTHETIC_SCHEMA, ["id"], ["id"]);
  for (let id = start; id <= rows; id++) {
    const row = syntheticRow(id);
    const wait = out.record(STREAM, row);
    if (wait) await wait;
    if (id % STATE_EVERY === 0) await out.state(bookmark(id));
  }
  if (start <= rows) await out.state(bookmark(rows));
  else if (args.state) await out.state(args.state);
  log(`tap-synthetic: ${Math.max(0, rows - start + 1)} records`);
}
