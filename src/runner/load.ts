/**
 * Loading a run's staged streams into `<lakehouseNamespace>.<destinationTable>`: the table is
 * created from the plan's columns when missing (columns added when new), then staged rows are
 * read in pages by ordinal, mapped (see load-plan.ts), de-duplicated by key within the page
 * (last wins, as a later record of a key would win anyway), and upserted on the key with one
 * `json_to_recordset` statement per page. Without a key the rows are appended.
 */
import { quoteIdent } from "../tenants/naming.js";
import { planStream, RowError, type MappingSpec, type StreamPlan } from "./load-plan.js";
import { stagedStreams, type SqlClient } from "./staging.js";

export interface LoadOptions {
  stagingSchema: string;
  runId: string;
  namespace: string;
  table: string;
  mappings: MappingSpec[];
  /** Staged rows read per page (default 10,000). */
  pageRows?: number;
}

export interface LoadResult {
  rowsLoaded: number;
  transformErrors: number;
  /** The first few row errors, for the logs (no row data beyond the failing value's start). */
  sampleErrors: string[];
}

async function ensureDestination(db: SqlClient, namespace: string, table: string, plan: StreamPlan): Promise<void> {
  const target = `${quoteIdent(namespace)}.${quoteIdent(table)}`;
  await db.query(`create schema if not exists ${quoteIdent(namespace)}`);
  const columns = plan.columns.map((c) => `${quoteIdent(c.name)} ${c.type}${plan.keys.includes(c.name) ? " not null" : ""}`);
  if (plan.keys.length > 0) columns.push(`primary key (${plan.keys.map(quoteIdent).join(", ")})`);
  await db.query(`create table if not exists ${target} (${columns.join(", ")})`);
  for (const c of plan.columns) await db.query(`alter table ${target} add column if not exists ${quoteIdent(c.name)} ${c.type}`);
}

function upsertSql(namespace: string, table: string, plan: StreamPlan): string {
  const names = plan.columns.map((c) => quoteIdent(c.name));
  const record = plan.columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(", ");
  let sql = `insert into ${quoteIdent(namespace)}.${quoteIdent(table)} (${names.join(", ")})
             select ${names.join(", ")} from json_to_recordset($1::json) as x(${record})`;
  if (plan.keys.length > 0) {
    const rest = plan.columns.filter((c) => !plan.keys.includes(c.name)).map((c) => `${quoteIdent(c.name)} = excluded.${quoteIdent(c.name)}`);
    sql += ` on conflict (${plan.keys.map(quoteIdent).join(", ")}) do ${rest.length > 0 ? `update set ${rest.join(", ")}` : "nothing"}`;
  }
  return sql;
}

/** Serialises mapped rows as a json array of objects (the recordset parameter). */
function recordset(plan: StreamPlan, rows: unknown[][]): string {
  const names = plan.columns.map((c) => JSON.stringify(c.name));
  const parts: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const values = rows[r]!;
    let text = "{";
    for (let i = 0; i < names.length; i++) text += `${i ? "," : ""}${names[i]}:${JSON.stringify(values[i] ?? null)}`;
    parts[r] = text + "}";
  }
  return `[${parts.join(",")}]`;
}

function dedupe(plan: StreamPlan, rows: unknown[][]): unknown[][] {
  if (plan.keys.length === 0) return rows;
  const idx = plan.keys.map((k) => plan.columns.findIndex((c) => c.name === k));
  const byKey = new Map<string, unknown[]>();
  for (const row of rows) {
    const key = idx.length === 1 ? String(row[idx[0]!]) : JSON.stringify(idx.map((i) => row[i]));
    byKey.delete(key);
    byKey.set(key, row);
  }
  return byKey.size === rows.length ? rows : [...byKey.values()];
}

export async function loadStagedRun(db: SqlClient, options: LoadOptions): Promise<LoadResult> {
  const pageRows = options.pageRows ?? 10_000;
  const result: LoadResult = { rowsLoaded: 0, transformErrors: 0, sampleErrors: [] };
  for (const stream of await stagedStreams(db, options.stagingSchema, options.runId)) {
    const plan = planStream(stream, options.mappings);
    if (!plan || plan.columns.length === 0) continue;
    await ensureDestination(db, options.namespace, options.table, plan);
    const upsert = upsertSql(options.namespace, options.table, plan);
    const source = `${quoteIdent(options.stagingSchema)}.${quoteIdent(stream.table)}`;
    for (let after = 0; ; ) {
      const { rows } = await db.query(
        `select ordinal, record from ${source} where run_id = $1 and ordinal > $2 order by ordinal limit $3`,
        [options.runId, after, pageRows],
      );
      if (rows.length === 0) break;
      after = Number(rows[rows.length - 1].ordinal);
      const good: unknown[][] = [];
      for (const { record } of rows as Array<{ record: Record<string, unknown> }>) {
        try {
          good.push(plan.map(record));
        } catch (err) {
          if (!(err instanceof RowError)) throw err;
          result.transformErrors++;
          if (result.sampleErrors.length < 5) result.sampleErrors.push(err.message);
        }
      }
      if (good.length > 0) await db.query(upsert, [recordset(plan, dedupe(plan, good))]);
      result.rowsLoaded += good.length;
      if (rows.length < pageRows) break;
    }
  }
  return result;
}
