/**
 * The run as every layer sees it (a plain snapshot, built from a row or an event payload), and the
 * events a run change appends: topic `connector:<id>`, type `run.<status>`, payload `{ run }`.
 */
import type { NewEvent } from "../events/index.js";
import { RunStatus, RunTrigger } from "../../entities/connector/run.entity.js";
import { connectorTopic } from "./types.js";

export interface RunView {
  id: string;
  tenantId: string;
  connectorId: string;
  status: RunStatus;
  trigger: RunTrigger;
  rowsSynced: number | null;
  rowsLoaded: number | null;
  transformErrors: number;
  lakehouseTable: string | null;
  queuedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  errorMsg: string | null;
}

export const RUN_COLUMN_NAMES = [
  "id", "tenant_id", "connector_id", "status", '"trigger"', "rows_synced", "rows_loaded", "transform_errors",
  "lakehouse_table", "queued_at", "started_at", "completed_at", "error_msg",
];
/** Columns of `connector_run` that make a RunView (for `returning` and selects). */
export const RUN_COLUMNS = RUN_COLUMN_NAMES.join(", ");
/** The same columns qualified by a table alias. */
export const runColumns = (alias: string) => RUN_COLUMN_NAMES.map((c) => `${alias}.${c}`).join(", ");

export interface RunRow {
  id: string;
  tenant_id: string;
  connector_id: string;
  status: string;
  trigger: string;
  rows_synced: string | number | null;
  rows_loaded: string | number | null;
  transform_errors: number;
  lakehouse_table: string | null;
  queued_at: Date | string;
  started_at: Date | string | null;
  completed_at: Date | string | null;
  error_msg: string | null;
}

const num = (v: string | number | null) => (v === null ? null : Number(v));
const date = (v: Date | string | null) => (v === null ? null : v instanceof Date ? v : new Date(v));

export function runFromRow(row: RunRow): RunView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    connectorId: row.connector_id,
    status: row.status as RunStatus,
    trigger: row.trigger as RunTrigger,
    rowsSynced: num(row.rows_synced),
    rowsLoaded: num(row.rows_loaded),
    transformErrors: row.transform_errors,
    lakehouseTable: row.lakehouse_table,
    queuedAt: date(row.queued_at)!,
    startedAt: date(row.started_at),
    completedAt: date(row.completed_at),
    errorMsg: row.error_msg,
  };
}

/** Seconds from start (or queueing, when the runner never said it started) to completion. */
export function durationSeconds(run: Pick<RunView, "queuedAt" | "startedAt" | "completedAt">): number | null {
  if (!run.completedAt) return null;
  const from = run.startedAt ?? run.queuedAt;
  return Math.max(0, (run.completedAt.getTime() - from.getTime()) / 1000);
}

export function runEvent(run: RunView): NewEvent {
  return {
    tenantId: run.tenantId,
    topic: connectorTopic(run.connectorId),
    type: `run.${run.status.toLowerCase()}`,
    payload: { run: { ...run } },
  };
}

/** The run carried by a `run.*` event (dates come back from JSON as strings). */
export function runFromPayload(payload: Record<string, unknown>): RunView | undefined {
  const run = payload.run as Record<string, unknown> | undefined;
  if (!run || typeof run.id !== "string") return undefined;
  return {
    ...(run as unknown as RunView),
    queuedAt: new Date(run.queuedAt as string),
    startedAt: run.startedAt ? new Date(run.startedAt as string) : null,
    completedAt: run.completedAt ? new Date(run.completedAt as string) : null,
  };
}
