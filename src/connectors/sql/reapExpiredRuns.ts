import type { EntityManager } from "../../db/orm.js";
import { RUN_COLUMNS, type RunRow } from "../runs.js";
import { exec } from "./exec.js";

/**
 * Fails up to `limit` QUEUED/RUNNING runs past their deadline (the report never came). LOADING
 * runs belong to the loader and are not reaped here.
 */
export function reapExpiredRuns(em: EntityManager, limit: number): Promise<RunRow[]> {
  return exec<RunRow>(
    em,
    `update connector_run set status = 'FAILED', completed_at = now(),
            error_msg = 'Run timed out: no report arrived before its deadline'
      where id in (select id from connector_run
                    where status in ('QUEUED', 'RUNNING') and deadline_at < now()
                    order by deadline_at limit ? for update skip locked)
      returning ${RUN_COLUMNS}`,
    [limit],
  );
}
