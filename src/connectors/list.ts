/**
 * The connector list, the hot read: one statement for the page and each node's last run, plain
 * rows (no entity hydration), and only the columns the caller asked for.
 *
 * Projection: a 50-node page read every column of the connector and of its last run (31 text
 * fields a row) while a dashboard asks for a handful; decoding and mapping the rest was a tenth
 * of the request's CPU. The GraphQL layer passes the view keys its selection needs; `id` and
 * `createdAt` (the cursor) are always read, and a key outside the views reads everything.
 */
import type { EntityManager } from "../db/orm.js";
import type { ConnectorView, Page } from "./queries.js";
import { tenantScope } from "./queries.js";
import type { RunView } from "./runs.js";
import { exec } from "./sql/exec.js";

/** A list row: the connector and its last-run summary, read together. Keys not asked are absent. */
export interface ConnectorListRow extends ConnectorView {
  /** Undefined when the last run was not asked for. */
  lastRun: RunView | null | undefined;
}

/** What to read: view keys of the connector, and of its last run (null: no last run at all). */
export interface ListProjection {
  connector: readonly string[];
  lastRun: readonly string[] | null;
}

const CONNECTOR_COLUMNS: Record<keyof ConnectorView, string> = {
  id: "c.id",
  sourceSystem: `c.source_system as "sourceSystem"`,
  tapName: `c.tap_name as "tapName"`,
  connectorType: `c.connector_type as "connectorType"`,
  destinationCatalog: `c.destination_catalog as "destinationCatalog"`,
  destinationTable: `c.destination_table as "destinationTable"`,
  lakehouseNamespace: `c.lakehouse_namespace as "lakehouseNamespace"`,
  syncSchedule: `c.sync_schedule as "syncSchedule"`,
  tapVersion: `c.tap_version as "tapVersion"`,
  meltanoEnvironment: `c.meltano_environment as "meltanoEnvironment"`,
  status: "c.status",
  consecutiveFailures: `c.consecutive_failures as "consecutiveFailures"`,
  rowsTotal: `c.rows_total as "rowsTotal"`,
  lastSyncedAt: `c.last_synced_at as "lastSyncedAt"`,
  nextRunAt: `c.next_run_at as "nextRunAt"`,
  configSource: `c.config_source as "configSource"`,
  createdAt: `c.created_at as "createdAt"`,
  updatedAt: `c.updated_at as "updatedAt"`,
};

/** The last run's columns, prefixed so they cannot collide with the connector's. */
const RUN_COLUMNS: Record<keyof RunView, string> = {
  id: `lr.id as "lr_id"`,
  tenantId: `lr.tenant_id as "lr_tenantId"`,
  connectorId: `lr.connector_id as "lr_connectorId"`,
  status: `lr.status as "lr_status"`,
  trigger: `lr."trigger" as "lr_trigger"`,
  rowsSynced: `lr.rows_synced as "lr_rowsSynced"`,
  rowsLoaded: `lr.rows_loaded as "lr_rowsLoaded"`,
  transformErrors: `lr.transform_errors as "lr_transformErrors"`,
  lakehouseTable: `lr.lakehouse_table as "lr_lakehouseTable"`,
  queuedAt: `lr.queued_at as "lr_queuedAt"`,
  startedAt: `lr.started_at as "lr_startedAt"`,
  completedAt: `lr.completed_at as "lr_completedAt"`,
  errorMsg: `lr.error_msg as "lr_errorMsg"`,
};

export const CONNECTOR_VIEW_KEYS = Object.keys(CONNECTOR_COLUMNS) as (keyof ConnectorView)[];
export const RUN_VIEW_KEYS = Object.keys(RUN_COLUMNS) as (keyof RunView)[];

/** Every column: for callers that pass no projection. */
const EVERYTHING: ListProjection = { connector: CONNECTOR_VIEW_KEYS, lastRun: RUN_VIEW_KEYS };

function selectList(projection: ListProjection): string {
  const keys = new Set(["id", "createdAt", ...projection.connector]);
  const known = [...keys].every((k) => k in CONNECTOR_COLUMNS) && (projection.lastRun ?? []).every((k) => k in RUN_COLUMNS);
  if (!known) return selectList(EVERYTHING);
  const columns = CONNECTOR_VIEW_KEYS.filter((k) => keys.has(k)).map((k) => CONNECTOR_COLUMNS[k]);
  if (projection.lastRun) {
    const runKeys = new Set(["id", ...projection.lastRun]);
    columns.push(...RUN_VIEW_KEYS.filter((k) => runKeys.has(k)).map((k) => RUN_COLUMNS[k]));
  }
  return columns.join(", ");
}

/** SQL text by projection (a handful of distinct selections per deployment). */
const statements = new Map<string, string>();

function listSql(projection: ListProjection, scopeSql: string, after: boolean): string {
  const key = `${projection.connector.join(",")}|${projection.lastRun?.join(",") ?? "-"}|${scopeSql}|${after}`;
  let sql = statements.get(key);
  if (sql === undefined) {
    const page = `select * from connector c where true${scopeSql}${after ? ` and (c.created_at, c.id) < (?::timestamptz, ?::uuid)` : ""}
        order by c.created_at desc, c.id desc limit ?`;
    // The last run: a LATERAL subquery that walks `connector_run (connector_id, queued_at, id)`
    // backwards and stops at the first row (a DISTINCT ON over the page's runs reads and sorts
    // their whole history instead).
    sql = projection.lastRun
      ? `select ${selectList(projection)} from (${page}) c
           left join lateral (
             select * from connector_run r where r.connector_id = c.id and r.tenant_id = c.tenant_id
              order by r.queued_at desc, r.id desc limit 1) lr on true
          order by c.created_at desc, c.id desc`
      : `select ${selectList(projection)} from (${page}) c order by c.created_at desc, c.id desc`;
    if (statements.size > 200) statements.clear();
    statements.set(key, sql);
  }
  return sql;
}

/**
 * The caller's connectors, newest first, keyset-paginated on (createdAt, id); one extra row; each
 * with its last run when asked. One statement whatever the page size (the tenant scope is the
 * EntityManager's).
 */
export async function listConnectors(em: EntityManager, page: Page, projection: ListProjection = EVERYTHING): Promise<ConnectorListRow[]> {
  const scope = tenantScope(em, "c");
  const rows = await exec<Record<string, unknown>>(
    em,
    listSql(projection, scope.sql, !!page.after),
    [...scope.params, ...(page.after ? [page.after.key, page.after.id] : []), page.size + 1],
  );
  const withRun = projection.lastRun !== null;
  return rows.map((row) => listRowFromRow(row, withRun));
}

type RawDate = Date | string | null | undefined;
// Absent (not asked) stays undefined; the driver hands timestamps back as text and bigints as strings.
const toDate = (v: RawDate) => (v == null || v instanceof Date ? v : new Date(v));
const toNumber = (v: unknown) => (v == null ? v : Number(v)) as number;

/** One list row → one object, field by field in a fixed order (one shape for V8). */
function listRowFromRow(row: Record<string, unknown>, withRun: boolean): ConnectorListRow {
  const r = row as unknown as ConnectorView;
  return {
    id: r.id,
    sourceSystem: r.sourceSystem,
    tapName: r.tapName,
    connectorType: r.connectorType,
    destinationCatalog: r.destinationCatalog,
    destinationTable: r.destinationTable,
    lakehouseNamespace: r.lakehouseNamespace,
    syncSchedule: r.syncSchedule,
    tapVersion: r.tapVersion,
    meltanoEnvironment: r.meltanoEnvironment,
    status: r.status,
    consecutiveFailures: r.consecutiveFailures,
    configSource: r.configSource,
    rowsTotal: toNumber(row.rowsTotal),
    lastSyncedAt: toDate(row.lastSyncedAt as RawDate) as Date | null,
    nextRunAt: toDate(row.nextRunAt as RawDate) as Date | null,
    createdAt: toDate(row.createdAt as RawDate) as Date,
    updatedAt: toDate(row.updatedAt as RawDate) as Date,
    lastRun: !withRun ? undefined : row.lr_id === null ? null : lastRunFromRow(row),
  };
}

/** runFromRow (runs.ts) over the `lr_` columns of a list row. */
function lastRunFromRow(row: Record<string, unknown>): RunView {
  return {
    id: row.lr_id as string,
    tenantId: row.lr_tenantId as string,
    connectorId: row.lr_connectorId as string,
    status: row.lr_status as RunView["status"],
    trigger: row.lr_trigger as RunView["trigger"],
    rowsSynced: toNumber(row.lr_rowsSynced),
    rowsLoaded: toNumber(row.lr_rowsLoaded),
    transformErrors: row.lr_transformErrors as number,
    lakehouseTable: row.lr_lakehouseTable as string | null,
    queuedAt: toDate(row.lr_queuedAt as RawDate) as Date,
    startedAt: toDate(row.lr_startedAt as RawDate) as Date | null,
    completedAt: toDate(row.lr_completedAt as RawDate) as Date | null,
    errorMsg: row.lr_errorMsg as string | null,
  };
}
