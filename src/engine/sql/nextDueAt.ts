import type { EntityManager } from "../../db/orm.js";
import { exec } from "./exec.js";

/** When the next step becomes due (including leases that will expire), or null. */
export async function nextDueAt(em: EntityManager): Promise<Date | null> {
  const [row] = await exec<{ next: Date | null }>(em, `select min(due_at) as next from workflow_step where due_at > now()`);
  return row?.next ? new Date(row.next) : null;
}
