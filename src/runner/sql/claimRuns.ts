import type { EntityManager } from "../../db/orm.js";
import { runColumns, type RunRow } from "../../connectors/runs.js";
import { exec } from "../../connectors/sql/exec.js";

export interface ClaimedRunRow extends RunRow {
  attempt: number;
}

/**
 * Claims up to `limit` runs for `runner`: QUEUED runs, and RUNNING runs whose runner's lease
 * expired (crashed), oldest first; `SKIP LOCKED` keeps concurrent runners on disjoint runs. The
 * claim's `attempt` grows by one on every claim of a run, and the upsert only takes over a claim
 * whose lease has expired (checked on the latest row version, so two runners cannot both win).
 * Claimed runs move to RUNNING.
 */
export function claimRuns(em: EntityManager, runner: string, limit: number, leaseMs: number): Promise<ClaimedRunRow[]> {
  return exec<ClaimedRunRow>(
    em,
    `with candidate as (
       select r.id, r.tenant_id from connector_run r
        where r.status in ('QUEUED', 'RUNNING')
          and not exists (select 1 from connector_run_claim c where c.run_id = r.id and c.lease_expires_at > now())
        order by r.queued_at
        limit ?
        for update of r skip locked
     ), claimed as (
       insert into connector_run_claim as c (run_id, tenant_id, attempt, runner, lease_expires_at, claimed_at)
       select id, tenant_id, 1, ?, now() + ? * interval '1 millisecond', now() from candidate
       on conflict (run_id) do update set attempt = c.attempt + 1, runner = excluded.runner,
              lease_expires_at = excluded.lease_expires_at, claimed_at = excluded.claimed_at
        where c.lease_expires_at <= now()
       returning c.run_id, c.attempt
     )
     update connector_run r set status = 'RUNNING', started_at = coalesce(r.started_at, now())
       from claimed where r.id = claimed.run_id
     returning ${runColumns("r")}, claimed.attempt`,
    [limit, runner, leaseMs],
  );
}

/**
 * Renews a lease, fenced by attempt and runner; false when the lease was lost or the run is no
 * longer QUEUED/RUNNING (reaped at its deadline, finished by another report, deleted).
 */
export async function renewClaim(em: EntityManager, runId: string, attempt: number, runner: string, leaseMs: number): Promise<boolean> {
  const rows = await exec(
    em,
    `update connector_run_claim c set lease_expires_at = now() + ? * interval '1 millisecond'
       from connector_run r
      where c.run_id = ? and c.attempt = ? and c.runner = ? and r.id = c.run_id and r.status in ('QUEUED', 'RUNNING')
      returning c.run_id`,
    [leaseMs, runId, attempt, runner],
  );
  return rows.length > 0;
}
