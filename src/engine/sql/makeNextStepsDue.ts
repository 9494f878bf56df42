import type { EntityManager } from "../../db/orm.js";
import { batch, exec } from "./exec.js";
import { STEP_COLUMNS, type StepRow } from "./rows.js";

/**
 * For each (workflow, position) just completed, makes the next PENDING step after it due.
 * It is due as of its workflow's creation (not "now"), and claims take the oldest due first, so
 * a started workflow runs on ahead of newer ones waiting for their first step: oldest workflow
 * first, which keeps the step-to-step hand-off short under a backlog.
 * Returns the steps made due; a workflow absent from the result has no step left to run.
 */
export async function makeNextStepsDue(em: EntityManager, done: { workflowId: string; position: number }[]): Promise<StepRow[]> {
  if (done.length === 0) return [];
  return exec<StepRow>(
    em,
    `update workflow_step s set due_at = least(now(), (select w.created_at from workflow w where w.id = s.workflow_id)), updated_at = now()
       from jsonb_to_recordset(?::jsonb) as v(workflow_id uuid, position int)
      where s.workflow_id = v.workflow_id and s.status = 'PENDING'
        and s.position = (select min(x.position) from workflow_step x
                           where x.workflow_id = v.workflow_id and x.position > v.position and x.status = 'PENDING')
      returning ${STEP_COLUMNS}`,
    [batch(done.map((d) => ({ workflow_id: d.workflowId, position: d.position })))],
  );
}
