/**
 * Reading connectors: the Relay page, one connector, its runs, and the per-request batch loaders
 * (last run, counts, tap state) that keep a list at a constant number of SQL statements.
 */
import DataLoader from "dataloader";
import type { EntityManager } from "../db/orm.js";
import { DomainError } from "../errors/index.js";
import { TENANT_FILTER, type TenantFilterArgs } from "../../entities/common/tenant-filter.js";
import { Connector } from "../../entities/connector/connector.entity.js";
import { FieldMapping } from "../../entities/connector/field-mapping.entity.js";
import { getConnector } from "./registry.js";
import { RUN_COLUMN_NAMES, RUN_COLUMNS, runColumns, runFromRow, type RunRow, type RunView } from "./runs.js";

const RUN_FIELDS = RUN_COLUMN_NAMES.map((c) => c.replace(/"/g, ""));
import { exec } from "./sql/exec.js";
import { RUNS_DEFAULT_LIMIT, RUNS_MAX_LIMIT } from "./types.js";

export interface Page {
  size: number;
  after: { key: string; id: string } | undefined;
}

/** The connector fields every read shows (never the secrets). The entity satisfies it too. */
export interface ConnectorView {
  id: string;
  sourceSystem: string;
  tapName: string;
  connectorType: Connector["connectorType"];
  destinationCatalog: string;
  destinationTable: string;
  lakehouseNamespace: string;
  syncSchedule: string;
  tapVersion: string | null;
  meltanoEnvironment: string;
  status: Connector["status"];
  consecutiveFailures: number;
  rowsTotal: number;
  lastSyncedAt: Date | null;
  nextRunAt: Date | null;
  configSource: Connector["configSource"];
  createdAt: Date;
  updatedAt: Date;
}

const VIEW_COLUMNS = `c.id, c.source_system as "sourceSystem", c.tap_name as "tapName", c.connector_type as "connectorType",
  c.destination_catalog as "destinationCatalog", c.destination_table as "destinationTable",
  c.lakehouse_namespace as "lakehouseNamespace", c.sync_schedule as "syncSchedule", c.tap_version as "tapVersion",
  c.meltano_environment as "meltanoEnvironment", c.status, c.consecutive_failures as "consecutiveFailures",
  c.rows_total as "rowsTotal", c.last_synced_at as "lastSyncedAt", c.next_run_at as "nextRunAt",
  c.config_source as "configSource", c.created_at as "createdAt", c.updated_at as "updatedAt"`;

type RawDate = Date | string | null;
const toDate = (v: RawDate) => (v === null || v instanceof Date ? v : new Date(v));

/** The driver hands timestamps back as text and bigints as strings here: normalise once. */
function viewFromRow(row: Record<string, unknown>): ConnectorView {
  const r = row as unknown as ConnectorView;
  // Field by field (not a spread): list rows carry the last run's columns too.
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
    rowsTotal: Number(row.rowsTotal),
    lastSyncedAt: toDate(row.lastSyncedAt as RawDate),
    nextRunAt: toDate(row.nextRunAt as RawDate),
    createdAt: toDate(row.createdAt as RawDate)!,
    updatedAt: toDate(row.updatedAt as RawDate)!,
  };
}

/** A list row: the connector and its last-run summary, read together. */
export interface ConnectorListRow extends ConnectorView {
  lastRun: RunView | null;
}

/** The last run's columns in a list row, prefixed so they cannot collide with the connector's. */
const LAST_RUN_COLUMNS = RUN_COLUMN_NAMES.map((c) => `lr.${c} as "lr_${c.replace(/"/g, "")}"`).join(", ");

/**
 * The caller's connectors, newest first, keyset-paginated on (createdAt, id); one extra row; each
 * with its last run. One statement whatever the page size: the last run comes from a LATERAL
 * subquery that walks `connector_run (connector_id, queued_at, id)` backwards and stops at the
 * first row (a DISTINCT ON over the page's runs reads and sorts their whole history instead).
 * A list is the hot read: plain rows, no entity hydration (the tenant scope is the EntityManager's).
 */
export async function listConnectors(em: EntityManager, page: Page): Promise<ConnectorListRow[]> {
  const scope = tenantScope(em, "c");
  const after = page.after ? ` and (c.created_at, c.id) < (?::timestamptz, ?::uuid)` : "";
  const rows = await exec<Record<string, unknown>>(
    em,
    `select ${VIEW_COLUMNS}, ${LAST_RUN_COLUMNS}
       from (select * from connector c where true${scope.sql}${after} order by c.created_at desc, c.id desc limit ?) c
       left join lateral (
         select * from connector_run r where r.connector_id = c.id and r.tenant_id = c.tenant_id
          order by r.queued_at desc, r.id desc limit 1) lr on true
      order by c.created_at desc, c.id desc`,
    [...scope.params, ...(page.after ? [page.after.key, page.after.id] : []), page.size + 1],
  );
  return rows.map((row) => ({ ...viewFromRow(row), lastRun: row.lr_id === null ? null : runFromRow(lastRunRow(row)) }));
}

function lastRunRow(row: Record<string, unknown>): RunRow {
  const out: Record<string, unknown> = {};
  for (const name of RUN_FIELDS) out[name] = row[`lr_${name}`];
  return out as unknown as RunRow;
}

export async function listConnectorRuns(em: EntityManager, connectorId: string, limit: number | null | undefined): Promise<RunView[]> {
  const size = limit ?? RUNS_DEFAULT_LIMIT;
  if (!Number.isInteger(size) || size < 1 || size > RUNS_MAX_LIMIT) {
    throw DomainError.badInput("limit", `must be between 1 and ${RUNS_MAX_LIMIT} (default ${RUNS_DEFAULT_LIMIT})`);
  }
  const connector = await getConnector(em, connectorId);
  const rows = await exec<RunRow>(
    em,
    `select ${RUN_COLUMNS} from connector_run where connector_id = ? order by queued_at desc, id desc limit ?`,
    [connector.id, size],
  );
  return rows.map(runFromRow);
}

export async function listFieldMappings(em: EntityManager, connectorId: string): Promise<FieldMapping[]> {
  return em.find(FieldMapping, { connector: connectorId }, { orderBy: { position: "asc" } });
}

export interface ConnectorStats {
  mappingCount: number;
  runCount: number;
  totalRowsLoaded: number;
}

export interface ConnectorLoaders {
  lastRun: DataLoader<string, RunView | null>;
  stats: DataLoader<string, ConnectorStats>;
  tapState: DataLoader<string, Record<string, unknown> | null>;
}

const loaders = new WeakMap<EntityManager, ConnectorLoaders>();

/** Raw batch reads repeat the data-layer tenant filter by hand: the EntityManager's own scope. */
function tenantScope(em: EntityManager, alias: string): { sql: string; params: unknown[] } {
  const args = em.getFilterParams<TenantFilterArgs>(TENANT_FILTER);
  if (!args) throw new Error("EntityManager is not scoped by the tenant filter");
  return args.tenantId === null ? { sql: "", params: [] } : { sql: ` and ${alias}.tenant_id = ?`, params: [args.tenantId] };
}

const idArray = (ids: readonly string[]) => `{${ids.join(",")}}`;

/** Loaders for one request (one EntityManager fork): each batches every key asked in a tick. */
export function connectorLoaders(em: EntityManager): ConnectorLoaders {
  let found = loaders.get(em);
  if (found) return found;
  found = {
    lastRun: new DataLoader(async (ids) => {
      const scope = tenantScope(em, "r");
      const rows = await exec<RunRow>(
        em,
        `select distinct on (r.connector_id) ${runColumns("r")}
           from connector_run r where r.connector_id = any(?::uuid[])${scope.sql}
          order by r.connector_id, r.queued_at desc, r.id desc`,
        [idArray(ids), ...scope.params],
      );
      const byId = new Map(rows.map((row) => [row.connector_id, runFromRow(row)]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    stats: new DataLoader(async (ids) => {
      const scope = tenantScope(em, "c");
      const rows = await exec<{ id: string; mapping_count: number; run_count: number; rows_loaded: string }>(
        em,
        `select c.id,
                (select count(*)::int from connector_field_mapping m where m.connector_id = c.id) as mapping_count,
                (select count(*)::int from connector_run r where r.connector_id = c.id) as run_count,
                (select coalesce(sum(r.rows_loaded), 0)::bigint from connector_run r where r.connector_id = c.id) as rows_loaded
           from connector c where c.id = any(?::uuid[])${scope.sql}`,
        [idArray(ids), ...scope.params],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => {
        const row = byId.get(id);
        return { mappingCount: row?.mapping_count ?? 0, runCount: row?.run_count ?? 0, totalRowsLoaded: Number(row?.rows_loaded ?? 0) };
      });
    }),
    tapState: new DataLoader(async (ids) => {
      const scope = tenantScope(em, "s");
      const rows = await exec<{ connector_id: string; state: Record<string, unknown> }>(
        em,
        `select s.connector_id, s.state from connector_tap_state s where s.connector_id = any(?::uuid[])${scope.sql}`,
        [idArray(ids), ...scope.params],
      );
      const byId = new Map(rows.map((r) => [r.connector_id, r.state]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
  loaders.set(em, found);
  return found;
}
