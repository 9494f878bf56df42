/**
 * The hand-off from a successful report to the load. SPEC: the loader (a job of the engine's
 * workers) maps and upserts the staged rows, then COMPLETES the run with `rowsLoaded` and commits
 * the STATE only after its rows are loaded.
 *
 * `LOAD_INLINE` is false: the webhook's one statement (sql/applyReport.ts) stops a successful run
 * at LOADING with the reported STATE on it (`connector_run.reported_state`), `startLoads` is
 * called in the same transaction to enqueue the loader's job (one per tenant and batch) (src/runner/loader.ts), and the job
 * calls `completeLoadedRun` once the rows are in. (True would complete the run in the webhook
 * with rowsLoaded = rowsSynced, as before the loader existed.)
 */

/** The loader's job completes successful runs (see above). */
export const LOAD_INLINE: boolean = false;
import type { EntityManager } from "../db/orm.js";
import { enqueueLoads } from "../runner/loader.js";
import { RUN_COLUMNS, runFromRow, type RunRow, type RunView } from "./runs.js";
import { exec } from "./sql/exec.js";

/**
 * Called with the batch's LOADING runs, in the webhook's transaction: enqueues their load (one
 * job per tenant). Returns the run snapshots to publish (none: the runs stay LOADING until the
 * loader is done).
 */
export async function startLoads(em: EntityManager, runs: RunView[]): Promise<RunView[]> {
  if (runs.length > 0) await enqueueLoads(em, runs);
  return [];
}

/**
 * In one statement: LOADING → COMPLETED with the counts, the reported STATE committed as the
 * connector's tap state, and the connector's success recorded (failure count reset).
 */
export async function completeLoadedRun(
  em: EntityManager,
  runId: string,
  rowsLoaded: number,
  transformErrors: number,
): Promise<RunView> {
  const rows = await exec<RunRow>(
    em,
    `with done as (
       update connector_run set status = 'COMPLETED', rows_loaded = ?, transform_errors = ?, completed_at = now()
        where id = ? and status = 'LOADING'
        returning ${RUN_COLUMNS}, reported_state as state
     ), state as (
       insert into connector_tap_state (connector_id, tenant_id, state, run_id, updated_at)
       select connector_id, tenant_id, state, id, now() from done where state is not null
       on conflict (connector_id) do update set state = excluded.state, run_id = excluded.run_id, updated_at = now()
     ), connector as (
       update connector c set consecutive_failures = 0, rows_total = c.rows_total + ?, last_synced_at = now(),
              updated_at = now()
         from done where c.id = done.connector_id
     )
     select ${RUN_COLUMNS} from done`,
    [rowsLoaded, transformErrors, runId, rowsLoaded],
  );
  if (!rows[0]) throw new Error(`run ${runId} is not LOADING`);
  return runFromRow(rows[0]);
}
