/**
 * Loading a run's staged streams into `<lakehouseNamespace>.<destinationTable>`: the table is
 * created from the plan's columns when missing (columns added when new), then staged rows are
 * read in pages by ordinal, mapped (see load-plan.ts), de-duplicated by key within the page
 * (last wins, as a later record of a key would win anyway), and upserted on the key with one
 * `json_to_recordset` statement per page. Without a key the rows are appended.
 *
 * Plans with no CEL transform take a faster path first: one `INSERT … SELECT` per page straight
 * from staging (`(record->>'f')::type`, `DISTINCT ON` the key), so the rows never travel through
 * Node. If PostgreSQL refuses a value of that page (a data exception, a null key), the page is
 * loaded again through the row-by-row path, which counts each bad row exactly.
 */
import { quoteIdent } from "../tenants/naming.js";
import { createIfMissing } from "./db.js";
import { planStream, RowError, type MappingSpec, type StreamPlan } from "./load-plan.js";
import { stagedStreams, type SqlClient } from "./staging.js";

export interface LoadOptions {
  stagingSchema: string;
  runId: string;
  namespace: string;
  table: string;
  mappings: MappingSpec[];
  /** Staged ordinals per page (default 25,000). */
  pageRows?: number;
  /** Extra connections that load pages in parallel while the destination is known empty. */
  writers?: SqlClient[];
}

export interface LoadResult {
  rowsLoaded: number;
  transformErrors: number;
  /** The first few row errors, for the logs (no row data beyond the failing value's start). */
  sampleErrors: string[];
}

async function ensureDestination(db: SqlClient, namespace: string, table: string, plan: StreamPlan): Promise<void> {
  const target = `${quoteIdent(namespace)}.${quoteIdent(table)}`;
  await createIfMissing(db, `create schema if not exists ${quoteIdent(namespace)}`);
  const columns = plan.columns.map((c) => `${quoteIdent(c.name)} ${c.type}${plan.keys.includes(c.name) ? " not null" : ""}`);
  if (plan.keys.length > 0) columns.push(`primary key (${plan.keys.map(quoteIdent).join(", ")})`);
  await createIfMissing(db, `create table if not exists ${target} (${columns.join(", ")})`);
  for (const c of plan.columns) await createIfMissing(db, `alter table ${target} add column if not exists ${quoteIdent(c.name)} ${c.type}`);
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

type PlainMode = "insert" | "upsert" | "upsert-distinct";

function plainSql(options: LoadOptions, plan: StreamPlan, source: string, mode: PlainMode): string {
  const distinct = mode === "upsert-distinct";
  const names = plan.columns.map((c) => quoteIdent(c.name));
  const values = plan.columns.map((c, i) => {
    const field = `'${plan.sources[i]!.replace(/'/g, "''")}'`;
    return c.kind === "json" ? `(record->${field})::${c.type}` : `(record->>${field})::${c.type}`;
  });
  const keys = plan.keys.map((k) => values[plan.columns.findIndex((c) => c.name === k)]!);
  const range = `from ${source} where run_id = $1 and ordinal > $2 and ordinal <= $3`;
  const select = distinct
    ? `select distinct on (${keys.join(", ")}) ${values.join(", ")} ${range} order by ${keys.join(", ")}, ordinal desc`
    : `select ${values.join(", ")} ${range}`;
  let sql = `insert into ${quoteIdent(options.namespace)}.${quoteIdent(options.table)} (${names.join(", ")}) ${select}`;
  if (plan.keys.length > 0 && mode !== "insert") {
    const rest = plan.columns.filter((c) => !plan.keys.includes(c.name)).map((c) => `${quoteIdent(c.name)} = excluded.${quoteIdent(c.name)}`);
    sql += ` on conflict (${plan.keys.map(quoteIdent).join(", ")}) do ${rest.length > 0 ? `update set ${rest.join(", ")}` : "nothing"}`;
  }
  return sql;
}

/**
 * One page's statement in its own transaction, committed without waiting for the WAL flush
 * (`synchronous_commit = off`, for this transaction only). Safe: the run's completion commits
 * later, synchronously, and flushing its commit record flushes every page's before it; a crash
 * before that loses at most pages of a run still LOADING, which the retried load writes again.
 */
async function pageStatement(db: SqlClient, sql: string, params: unknown[]): Promise<void> {
  await db.query("begin");
  try {
    await db.query("set local synchronous_commit = off");
    await db.query(sql, params);
    await db.query("commit");
  } catch (err) {
    await db.query("rollback").catch(() => undefined);
    throw err;
  }
}

/** A key already in the table (or twice in the page) under a plain INSERT (23505). */
function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === "23505";
}

/** A key repeated within one page: ON CONFLICT DO UPDATE cannot touch a row twice (21000). */
function isRepeatedKey(err: unknown): boolean {
  return (err as { code?: string }).code === "21000";
}

/** PostgreSQL refused a value (SQLSTATE class 22 data exception, 23502 not-null violation). */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? "";
  return code.startsWith("22") || code === "23502";
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

async function isEmpty(db: SqlClient, options: LoadOptions): Promise<boolean> {
  const { rows } = await db.query(`select not exists (select 1 from ${quoteIdent(options.namespace)}.${quoteIdent(options.table)}) as empty`);
  return rows[0].empty === true;
}

/**
 * Loads a page through SQL alone, escalating insert → upsert → upsert with DISTINCT ON as
 * conflicts require; returns the mode that worked (to start the next page with), or undefined
 * when a value needs the row-by-row path.
 */
async function tryPlain(db: SqlClient, statements: Record<"insert" | "upsert" | "distinct", string>, mode: PlainMode, params: unknown[]): Promise<PlainMode | undefined> {
  const order: PlainMode[] = mode === "insert" ? ["insert", "upsert", "upsert-distinct"] : mode === "upsert" ? ["upsert", "upsert-distinct"] : ["upsert-distinct"];
  for (const attempt of order) {
    try {
      await pageStatement(db, attempt === "upsert-distinct" ? statements.distinct : statements[attempt], params);
      return attempt;
    } catch (err) {
      if (isDataError(err)) return undefined;
      const escalate = attempt === "insert" ? isUniqueViolation(err) : attempt === "upsert" && isRepeatedKey(err);
      if (!escalate) throw err;
    }
  }
  return undefined;
}

/** Maps staged records to rows, counting (and sampling) the ones that fail. */
function mapRecords(plan: StreamPlan, rows: Array<{ record: Record<string, unknown> }>, result: LoadResult): unknown[][] {
  const good: unknown[][] = [];
  for (const { record } of rows) {
    try {
      good.push(plan.map(record));
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      result.transformErrors++;
      if (result.sampleErrors.length < 5) result.sampleErrors.push(err.message);
    }
  }
  return good;
}

/**
 * Writes mapped rows (de-duplicated by key): a plain INSERT while the target is known empty of
 * these keys, the upsert from the first conflict on (each statement is atomic, so a refused
 * INSERT left nothing and the page is simply upserted). Returns whether to keep inserting.
 */
async function writeRows(db: SqlClient, sql: { insert: string; upsert: string }, plan: StreamPlan, rows: unknown[][], insert: boolean): Promise<boolean> {
  if (rows.length === 0) return insert;
  const param = recordset(plan, dedupe(plan, rows));
  if (insert) {
    try {
      await db.query(sql.insert, [param]);
      return true;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }
  await db.query(sql.upsert, [param]);
  return false;
}

const selectPage = (source: string) => `select record from ${source} where run_id = $1 and ordinal > $2 and ordinal <= $3 order by ordinal`;

/** The row-by-row path for staged ordinals (after, last]: map in Node, count bad rows, upsert. */
async function loadPage(db: SqlClient, plan: StreamPlan, upsert: string, source: string, runId: string, after: number, last: number, result: LoadResult): Promise<void> {
  const { rows } = await db.query(selectPage(source), [runId, after, last]);
  const good = mapRecords(plan, rows, result);
  if (good.length > 0) await db.query(upsert, [recordset(plan, dedupe(plan, good))]);
  result.rowsLoaded += good.length;
}

/**
 * The mapped (CEL) path for a whole stream, pipelined on the one connection: while Node maps
 * page n, the server writes page n - 1 and then reads page n + 1 (both already sent), so the
 * transforms overlap the SQL instead of alternating with it. At most three pages are in memory.
 */
async function loadMapped(db: SqlClient, plan: StreamPlan, sql: { insert: string; upsert: string }, source: string, options: LoadOptions, rowsStaged: number, pageRows: number, empty: boolean, result: LoadResult): Promise<void> {
  const select = selectPage(source);
  // Awaited in order below; the handlers only keep a failure of a statement in flight from being
  // reported as unhandled before its turn comes.
  const quiet = <T>(p: Promise<T>) => (p.catch(() => undefined), p);
  const read = (after: number) => quiet(db.query(select, [options.runId, after, Math.min(after + pageRows, rowsStaged)]));
  let insert = empty;
  let writing: Promise<boolean> | undefined;
  let next = rowsStaged > 0 ? read(0) : undefined;
  try {
    for (let after = 0; next; after += pageRows) {
      const { rows } = await next;
      next = after + pageRows < rowsStaged ? read(after + pageRows) : undefined;
      const good = mapRecords(plan, rows, result);
      if (writing) insert = await writing;
      writing = quiet(writeRows(db, sql, plan, good, insert));
      result.rowsLoaded += good.length;
    }
    if (writing) await writing;
  } finally {
    // A failure leaves no statement of this stream running on the connection when we return.
    await Promise.allSettled([next, writing]);
  }
}

/**
 * Plain INSERTs of pages into an empty destination on several connections at once, in page
 * order, until a page fails (a key conflict, within or across pages, or a value PostgreSQL
 * refuses) or all are in. Returns the first page that did not load (`from`): the caller then
 * applies every page from there on again, one by one in order with upserts, so the last record
 * of a key wins as if the pages had gone in sequence (a page loaded ahead of `from` is simply
 * upserted again; `loadedAhead` says which, so its rows are not counted twice). Each statement
 * commits on its own: nothing partial is left by a failed one.
 */
async function insertInParallel(clients: SqlClient[], insert: string, runId: string, rows: number, pageRows: number): Promise<{ from: number; rowsLoaded: number; loadedAhead: Set<number> }> {
  let next = 0;
  let stop = false;
  let failedAt = Infinity;
  let fatal: unknown;
  const loaded = new Map<number, number>();
  const worker = async (db: SqlClient) => {
    while (!stop && next < rows) {
      const after = next;
      next += pageRows;
      const last = Math.min(after + pageRows, rows);
      try {
        await pageStatement(db, insert, [runId, after, last]);
        loaded.set(after, last - after);
      } catch (err) {
        stop = true;
        failedAt = Math.min(failedAt, after);
        if (!isUniqueViolation(err) && !isDataError(err)) fatal ??= err;
      }
    }
  };
  await Promise.all(clients.map(worker));
  if (fatal) throw fatal;
  const from = Math.min(failedAt, next);
  let rowsLoaded = 0;
  const loadedAhead = new Set<number>();
  for (const [after, n] of loaded) {
    rowsLoaded += n;
    if (after >= from) loadedAhead.add(after);
  }
  return { from, rowsLoaded, loadedAhead };
}

export async function loadStagedRun(db: SqlClient, options: LoadOptions): Promise<LoadResult> {
  const pageRows = options.pageRows ?? 25_000;
  const result: LoadResult = { rowsLoaded: 0, transformErrors: 0, sampleErrors: [] };
  for (const stream of await stagedStreams(db, options.stagingSchema, options.runId)) {
    const plan = planStream(stream, options.mappings);
    if (!plan || plan.columns.length === 0) continue;
    await ensureDestination(db, options.namespace, options.table, plan);
    const upsert = upsertSql(options.namespace, options.table, plan);
    const source = `${quoteIdent(options.stagingSchema)}.${quoteIdent(stream.table)}`;
    // Into an empty table, pages go in as plain INSERTs (an upsert's conflict check costs about
    // as much again); the first key conflict switches the rest of the stream to upserts, tried
    // without DISTINCT ON first (no sort) and with it when a page repeats a key. Each statement
    // is its own transaction, so a refused one leaves nothing behind.
    const empty = plan.keys.length === 0 || (await isEmpty(db, options));
    const statements = plan.plain
      ? { insert: plainSql(options, plan, source, "insert"), upsert: plainSql(options, plan, source, "upsert"), distinct: plainSql(options, plan, source, "upsert-distinct") }
      : undefined;
    if (!statements) {
      const insert = upsert.slice(0, plan.keys.length > 0 ? upsert.indexOf(" on conflict (") : undefined);
      await loadMapped(db, plan, { insert, upsert }, source, options, stream.rows, pageRows, empty, result);
      continue;
    }
    let mode: PlainMode = empty ? "insert" : "upsert";
    let from = 0;
    let loadedAhead = new Set<number>();
    if (empty && options.writers?.length) {
      const parallel = await insertInParallel([db, ...options.writers], statements.insert, options.runId, stream.rows, pageRows);
      result.rowsLoaded += parallel.rowsLoaded;
      from = parallel.from;
      mode = "upsert";
      loadedAhead = parallel.loadedAhead;
    }
    for (let after = from; after < stream.rows; after += pageRows) {
      const last = Math.min(after + pageRows, stream.rows);
      // Without a key the order does not matter, and a page loaded again would be appended twice.
      if (plan.keys.length === 0 && loadedAhead.has(after)) continue;
      if (statements) {
        const done = await tryPlain(db, statements, mode, [options.runId, after, last]);
        if (done) {
          mode = done === "upsert-distinct" ? "upsert" : done;
          // A page the parallel inserts had loaded is applied again, in order, but counted once.
          if (!loadedAhead.has(after)) result.rowsLoaded += last - after;
          continue;
        }
      }
      await loadPage(db, plan, upsert, source, options.runId, after, last, result);
    }
  }
  return result;
}
