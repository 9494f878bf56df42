import type { EntityManager } from "../../db/orm.js";
import { exec } from "./exec.js";
import { STEP_COLUMNS, WORKFLOW_COLUMNS, type StepRow, type WorkflowRow } from "./rows.js";

/**
 * Locks a workflow's steps, then the workflow (the order every writer uses: steps first), and
 * returns them. `tenantId` (when not null) must own the workflow, else nothing is returned.
 */
export async function lockWorkflow(
  em: EntityManager,
  workflowId: string,
  tenantId: string | null,
): Promise<{ workflow: WorkflowRow; steps: StepRow[] } | undefined> {
  const steps = await exec<StepRow>(
    em,
    `select ${STEP_COLUMNS} from workflow_step s where s.workflow_id = ? and (?::uuid is null or s.tenant_id = ?::uuid)
      order by s.position for update`,
    [workflowId, tenantId, tenantId],
  );
  const [workflow] = await exec<WorkflowRow>(
    em,
    `select ${WORKFLOW_COLUMNS} from workflow w where w.id = ? and (?::uuid is null or w.tenant_id = ?::uuid) for update`,
    [workflowId, tenantId, tenantId],
  );
  return workflow ? { workflow, steps } : undefined;
}

/** Every step of these workflows, in order (for projection hooks). */
export async function loadSteps(em: EntityManager, workflowIds: string[]): Promise<StepRow[]> {
  if (workflowIds.length === 0) return [];
  return exec<StepRow>(
    em,
    `select ${STEP_COLUMNS} from workflow_step s where s.workflow_id = any(?::uuid[]) order by s.workflow_id, s.position`,
    [workflowIds],
  );
}
