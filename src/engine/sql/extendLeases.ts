import type { EntityManager } from "../../db/orm.js";
import { batch, exec } from "./exec.js";

/** Heartbeat: extends the leases this worker still holds; returns the ids it still holds. */
export async function extendLeases(
  em: EntityManager,
  owner: string,
  held: { id: string; attempt: number }[],
  leaseMs: number,
): Promise<string[]> {
  if (held.length === 0) return [];
  const rows = await exec<{ id: string }>(
    em,
    `update workflow_step s set leased_until = now() + ? * interval '1 millisecond', due_at = now() + ? * interval '1 millisecond'
       from jsonb_to_recordset(?::jsonb) as v(id uuid, attempt int)
      where s.id = v.id and s.attempt = v.attempt and s.lease_owner = ?
      returning s.id`,
    [leaseMs, leaseMs, batch(held), owner],
  );
  return rows.map((r) => r.id);
}
