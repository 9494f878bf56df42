/**
 * Reading connectors: one connector, its runs, and the per-request batch loaders (last run, counts,
 * tap state) that keep a list at a constant number of SQL statements. The list page is list.ts.
 */
import DataLoader from "dataloader";
import type { EntityManager } from "../db/orm.js";
import { DomainError } from "../errors/index.js";
import { TENANT_FILTER, type TenantFilterArgs } from "../../entities/common/tenant-filter.js";
import { Connector } from "../../entities/connector/connector.entity.js";
import { FieldMapping } from "../../entities/connector/field-mapping.entity.js";
import { getConnector } from "./registry.js";
import { RUN_COLUMNS, runColumns, runFromRow, type RunRow, type RunView } from "./runs.js";
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
export function tenantScope(em: EntityManager, alias: string): { sql: string; params: unknown[] } {
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
