import type { EntityManager } from "../../db/orm.js";
import { batch, exec } from "./exec.js";
import { STEP_COLUMNS, type StepRow } from "./rows.js";

/**
 * Rollback: for each workflow, turns its highest COMPLETED step below `belowPosition` into a due
 * COMPENSATING step with a fresh attempt budget. Returns those steps; a workflow absent from the
 * result has nothing left to compensate.
 */
export async function startNextCompensations(
  em: EntityManager,
  items: { workflowId: string; belowPosition: number }[],
): Promise<StepRow[]> {
  if (items.length === 0) return [];
  return exec<StepRow>(
    em,
    `update workflow_step s set status = 'COMPENSATING', due_at = now(), attempt_base = s.attempt,
        next_attempt_at = null, error = null, updated_at = now()
       from jsonb_to_recordset(?::jsonb) as v(workflow_id uuid, below int)
      where s.workflow_id = v.workflow_id
        and s.position = (select max(x.position) from workflow_step x
                           where x.workflow_id = v.workflow_id and x.position < v.below
                             and x.status in ('COMPLETED', 'COMPENSATION_FAILED'))
      returning ${STEP_COLUMNS}`,
    [batch(items.map((i) => ({ workflow_id: i.workflowId, below: i.belowPosition })))],
  );
}
