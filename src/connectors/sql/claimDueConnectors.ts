import type { EntityManager } from "../../db/orm.js";
import { exec } from "./exec.js";

export interface DueConnector {
  id: string;
  tenant_id: string;
  sync_schedule: string;
  lakehouse_namespace: string;
  destination_table: string;
  sync_requested_at: Date | null;
}

/**
 * Locks up to `limit` due ACTIVE connectors with no run in flight. SKIP LOCKED lets every
 * scheduler replica claim a disjoint batch; the locks hold until the caller's transaction ends.
 */
export function claimDueConnectors(em: EntityManager, limit: number): Promise<DueConnector[]> {
  return exec<DueConnector>(
    em,
    `select c.id, c.tenant_id, c.sync_schedule, c.lakehouse_namespace, c.destination_table, c.sync_requested_at
       from connector c
      where c.status = 'ACTIVE' and c.next_run_at <= now()
        and not exists (select 1 from connector_run r
                         where r.connector_id = c.id and r.status in ('QUEUED', 'RUNNING', 'LOADING'))
      order by c.next_run_at
      limit ?
      for update of c skip locked`,
    [limit],
  );
}
