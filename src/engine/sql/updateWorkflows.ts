import type { EntityManager } from "../../db/orm.js";
import type { WorkflowStatus } from "../types.js";
import { batch, exec } from "./exec.js";
import { preparable } from "../../db/sql.js";
import { WORKFLOW_COLUMNS, type WorkflowRow } from "./rows.js";
import type { Statement } from "./round.js";

export interface WorkflowWrite {
  id: string;
  /** New status; null keeps it (the row is still touched, and returned for the event snapshot). */
  status: WorkflowStatus | null;
  /** Only when set: the new error (null clears it). */
  error?: string | null;
}

/** Statuses after which a workflow has a `completed_at`; `FINAL` is their SQL list. */
const FINAL_STATUSES = new Set<WorkflowStatus>(["COMPLETED", "ROLLED_BACK", "CANCELLED"]);
export const FINAL = `(${[...FINAL_STATUSES].map((s) => `'${s}'`).join(", ")})`;

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

/** The same update, returning nothing: sent with COMMIT when the caller knows the new rows (below). */
const UPDATE_WORKFLOWS_QUIET = preparable(UPDATE_WORKFLOWS.slice(0, UPDATE_WORKFLOWS.lastIndexOf("returning")));

const params = (writes: WorkflowWrite[]) => [
  batch(writes.map((w) => ({ id: w.id, status: w.status, error: w.error ?? null, set_error: w.error !== undefined }))),
  // The id array can be counted by the planner (it assumes 100 rows for the function): with a
  // long history it finds the rows by primary key instead of scanning every workflow.
  `{${writes.map((w) => w.id).join(",")}}`,
];

/**
 * The statement of {@link updateWorkflows} without its result, to send with COMMIT, and the rows
 * it leaves, computed from each workflow's row as read in the same transaction (`before`) and the
 * transaction's `now()`: exactly what the update sets. Only for rows no other transaction can
 * change in between: a worker round's workflows, whose step rows the round has locked (every
 * other writer of a workflow — admin actions, callbacks — changes, and so locks, its steps too).
 */
export function updateWorkflowsAtCommit(writes: WorkflowWrite[], before: Map<string, WorkflowRow>, now: Date): { statement: Statement; rows: WorkflowRow[] } {
  const rows = writes.map((w) => {
    const row = before.get(w.id);
    if (!row) throw new Error(`no row of workflow ${w.id} to update`);
    const status = w.status ?? row.status;
    return {
      ...row,
      status,
      error: w.error !== undefined ? w.error : row.error,
      completed_at: FINAL_STATUSES.has(status) ? (row.completed_at ?? now) : null,
      updated_at: now,
    };
  });
  return { statement: [UPDATE_WORKFLOWS_QUIET, params(writes)], rows };
}

/** Updates many workflows in one statement; returns them all (the snapshots for events). */
export async function updateWorkflows(em: EntityManager, writes: WorkflowWrite[]): Promise<WorkflowRow[]> {
  if (writes.length === 0) return [];
  return exec<WorkflowRow>(
    em,
    UPDATE_WORKFLOWS,
    params(writes),
  );
}
