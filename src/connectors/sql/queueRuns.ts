import type { EntityManager } from "../../db/orm.js";
import { RUN_COLUMNS, type RunRow } from "../runs.js";
import { exec } from "./exec.js";

export interface RunToQueue {
  run_id: string;
  connector_id: string;
  tenant_id: string;
  /** The connector's next cron time (null: the schedule never fires again). */
  next_run_at: string | null;
  lakehouse_table: string;
  trigger: "SCHEDULE" | "MANUAL";
}

/**
 * In one statement: advances each claimed connector's `next_run_at`, clears its trigger request,
 * and inserts its QUEUED run. The partial unique index on in-flight runs makes a second in-flight
 * run impossible even if a caller skipped the claim; such a row is silently not inserted.
 */
export function queueRuns(em: EntityManager, runs: RunToQueue[], runTimeoutMs: number): Promise<RunRow[]> {
  if (runs.length === 0) return Promise.resolve([]);
  return exec<RunRow>(
    em,
    `with input as (
       select * from jsonb_to_recordset(?::jsonb)
         as x(run_id uuid, connector_id uuid, tenant_id uuid, next_run_at timestamptz, lakehouse_table text, "trigger" text)
     ), advanced as (
       update connector c set next_run_at = i.next_run_at, sync_requested_at = null, updated_at = now()
         from input i where c.id = i.connector_id
     )
     insert into connector_run (id, tenant_id, connector_id, status, "trigger", lakehouse_table, queued_at, deadline_at)
     select i.run_id, i.tenant_id, i.connector_id, 'QUEUED', i."trigger", i.lakehouse_table, now(),
            now() + ? * interval '1 millisecond'
       from input i
     on conflict (connector_id) where status in ('QUEUED', 'RUNNING', 'LOADING') do nothing
     returning ${RUN_COLUMNS}`,
    [JSON.stringify(runs), runTimeoutMs],
  );
}
