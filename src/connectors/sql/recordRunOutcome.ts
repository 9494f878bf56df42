import type { EntityManager } from "../../db/orm.js";
import { BREAKER_THRESHOLD } from "../types.js";
import { exec } from "./exec.js";

/**
 * Counts a failed run for each connector; the one that reaches the threshold while ACTIVE goes to
 * ERROR with no next run (the breaker). Returns the connectors whose breaker opened.
 */
export async function recordFailures(em: EntityManager, connectorIds: string[]): Promise<string[]> {
  if (connectorIds.length === 0) return [];
  const rows = await exec<{ id: string; opened: boolean }>(
    em,
    `update connector c set
        consecutive_failures = c.consecutive_failures + 1,
        status = case when c.status = 'ACTIVE' and c.consecutive_failures + 1 >= ? then 'ERROR' else c.status end,
        next_run_at = case when c.status = 'ACTIVE' and c.consecutive_failures + 1 >= ? then null else c.next_run_at end,
        updated_at = now()
      from (select c0.status as old_status, c0.id from connector c0 where c0.id = any(?::uuid[])) old
      where c.id = old.id
      returning c.id, (old.old_status = 'ACTIVE' and c.status = 'ERROR') as opened`,
    [BREAKER_THRESHOLD, BREAKER_THRESHOLD, `{${connectorIds.join(",")}}`],
  );
  return rows.filter((r) => r.opened).map((r) => r.id);
}
