import type { EntityManager } from "../../db/orm.js";
import type { WorkflowStatus } from "../types.js";
import { batch, exec } from "./exec.js";
import { preparable } from "../../db/sql.js";
import { WORKFLOW_COLUMNS, type WorkflowRow } from "./rows.js";

export interface WorkflowWrite {
  id: string;
  /** New status; null keeps it (the row is still touched, and returned for the event snapshot). */
  status: WorkflowStatus | null;
  /** Only when set: the new error (null clears it). */
  error?: string | null;
}

const FINAL = `('COMPLETED', 'ROLLED_BACK', 'CANCELLED')`;

/** Prepared once per connection in worker rounds (round.ts). */
const UPDATE_WORKFLOWS = preparable(
  `update workflow w set
       status = coalesce(v.status, w.status),
       error = case when v.set_error then v.error else w.error end,
       completed_at = case when coalesce(v.status, w.status) in ${FINAL} then coalesce(w.completed_at, now()) else null end,
       updated_at = now()
     from jsonb_to_recordset(?::jsonb) as v(id uuid, status text, error text, set_error boolean)
     where w.id = any(?::uuid[]) and w.id = v.id
     returning ${WORKFLOW_COLUMNS}`,
);

/** Updates many workflows in one statement; returns them all (the snapshots for events). */
export async function updateWorkflows(em: EntityManager, writes: WorkflowWrite[]): Promise<WorkflowRow[]> {
  if (writes.length === 0) return [];
  return exec<WorkflowRow>(
    em,
    UPDATE_WORKFLOWS,
    // The id array can be counted by the planner (it assumes 100 rows for the function): with a
    // long history it finds the rows by primary key instead of scanning every workflow.
    [batch(writes.map((w) => ({ id: w.id, status: w.status, error: w.error ?? null, set_error: w.error !== undefined }))), `{${writes.map((w) => w.id).join(",")}}`],
  );
}
