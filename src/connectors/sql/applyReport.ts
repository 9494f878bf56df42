/**
 * A batch of run reports in one statement (the webhook's hot path). For every report whose run is
 * still QUEUED or RUNNING: the run's transition (success: COMPLETED when the load is inline, else
 * LOADING with the STATE kept for the loader; failure: FAILED), the committed tap state (inline
 * success), the connector's counters (success: reset, rows, last sync; failure: one more, and the
 * breaker at the threshold), and the delivery record that makes a replay harmless. Reports whose
 * run was not QUEUED/RUNNING, or whose webhook-id was already delivered, get no row back.
 */
import type { EntityManager } from "../../db/orm.js";
import { BREAKER_THRESHOLD } from "../types.js";
import type { RunRow } from "../runs.js";
import { exec } from "./exec.js";

export interface ReportInput {
  /** Position in the batch, echoed back. */
  i: number;
  run_id: string;
  connector_id: string;
  tenant_id: string;
  webhook_id: string;
  rows_synced: number;
  state: Record<string, unknown> | null;
  ok: boolean;
  error_msg: string | null;
}

export interface ReportRow extends RunRow {
  i: number;
  /** The connector is due again (a trigger arrived while this run was in flight). */
  due: boolean;
}

export async function applyReportBatch(em: EntityManager, reports: ReportInput[], inline: boolean): Promise<ReportRow[]> {
  if (reports.length === 0) return [];
  return exec<ReportRow>(
    em,
    `with input as (
       -- A webhook-id is the delivery's idempotency key: one already delivered, or seen earlier in
       -- this batch, has no effect, even with another body (it gets the first answer again).
       select distinct on (x.connector_id, x.webhook_id) x.*
         from jsonb_to_recordset(?::jsonb) as x(i int, run_id uuid, connector_id uuid, tenant_id uuid, webhook_id text,
                                                rows_synced bigint, state jsonb, ok boolean, error_msg text)
        where not exists (select 1 from connector_webhook_delivery d where d.connector_id = x.connector_id and d.webhook_id = x.webhook_id)
        order by x.connector_id, x.webhook_id, x.i
     ), run as (
       update connector_run r set
              status = case when i.ok then ? else 'FAILED' end,
              rows_synced = i.rows_synced,
              rows_loaded = case when i.ok and ? then i.rows_synced else r.rows_loaded end,
              reported_state = case when i.ok then i.state else r.reported_state end,
              error_msg = case when i.ok then null else i.error_msg end,
              started_at = coalesce(r.started_at, now()),
              completed_at = case when i.ok and not ? then null else now() end
         from input i
        -- The array makes the runs a primary-key lookup: the planner guesses 100 rows for the
        -- recordset and otherwise hash-joins a sequential scan of every run ever (all history).
        where r.id = any(array(select run_id from input)) and r.id = i.run_id and r.connector_id = i.connector_id
          and r.status in ('QUEUED', 'RUNNING')
       returning r.id, r.tenant_id, r.connector_id, r.status, r."trigger", r.rows_synced, r.rows_loaded, r.transform_errors,
                 r.lakehouse_table, r.queued_at, r.started_at, r.completed_at, r.error_msg, r.reported_state, i.i, i.webhook_id
     ), state as (
       insert into connector_tap_state (connector_id, tenant_id, state, run_id, updated_at)
       select connector_id, tenant_id, reported_state, id, now() from run where status = 'COMPLETED' and reported_state is not null
       on conflict (connector_id) do update set state = excluded.state, run_id = excluded.run_id, updated_at = now()
     ), succeeded as (
       update connector c set consecutive_failures = 0, rows_total = c.rows_total + run.rows_loaded, last_synced_at = now(),
              updated_at = now()
         from run where c.id = run.connector_id and run.status = 'COMPLETED'
       returning c.id, c.status = 'ACTIVE' and c.next_run_at <= now() as due
     ), failed as (
       update connector c set
              consecutive_failures = c.consecutive_failures + 1,
              status = case when c.status = 'ACTIVE' and c.consecutive_failures + 1 >= ? then 'ERROR' else c.status end,
              next_run_at = case when c.status = 'ACTIVE' and c.consecutive_failures + 1 >= ? then null else c.next_run_at end,
              updated_at = now()
         from run where c.id = run.connector_id and run.status = 'FAILED'
       returning c.id, c.status = 'ACTIVE' and c.next_run_at <= now() as due
     ), delivered as (
       insert into connector_webhook_delivery (connector_id, webhook_id, tenant_id, response_status, response_data)
       select connector_id, webhook_id, tenant_id, 200, jsonb_build_object('connector_id', connector_id, 'run_id', id, 'status', status)
         from run
       on conflict do nothing
     )
     select run.id, run.tenant_id, run.connector_id, run.status, run."trigger", run.rows_synced, run.rows_loaded,
            run.transform_errors, run.lakehouse_table, run.queued_at, run.started_at, run.completed_at, run.error_msg, run.i,
            coalesce(s.due, f.due, false) as due
       from run left join succeeded s on s.id = run.connector_id left join failed f on f.id = run.connector_id`,
    [JSON.stringify(reports), inline ? "COMPLETED" : "LOADING", inline, inline, BREAKER_THRESHOLD, BREAKER_THRESHOLD],
  );
}
