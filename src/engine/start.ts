/** Starting a workflow: rows and event written in the caller's transaction (the enqueue seam). */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "../db/orm.js";
import { appendEvents, wake } from "../events/index.js";
import { workflowRegistry, type WorkflowRegistry } from "./definitions.js";
import { exec, batch } from "./sql/exec.js";
import { STEP_COLUMNS, WORKFLOW_COLUMNS, type StepRow, type WorkflowRow } from "./sql/rows.js";
import { eventFor, runHooks } from "./transitions.js";
import { STEPS_CHANNEL, type JsonObject, type WorkflowSnapshot } from "./types.js";
import { workflowSnapshot } from "./sql/rows.js";

export interface StartWorkflowInput {
  kind: string;
  tenantId: string;
  serviceSlug?: string | null;
  input?: JsonObject;
}

/**
 * Creates a workflow (PENDING) and its steps, makes the first step due, appends
 * `workflow.created` and wakes the workers — all in the caller's transaction, so a workflow
 * exists exactly when the caller's own writes commit. Must be called inside
 * `em.transactional(...)`. Returns the new workflow's snapshot.
 */
export async function startWorkflow(
  em: EntityManager,
  input: StartWorkflowInput,
  registry: WorkflowRegistry = workflowRegistry,
): Promise<WorkflowSnapshot> {
  if (!em.getTransactionContext()) throw new Error("startWorkflow must run inside a transaction (em.transactional)");
  const definition = registry.get(input.kind, input.serviceSlug);
  const id = randomUUID();
  const [workflow] = await exec<WorkflowRow>(
    em,
    `insert into workflow as w (id, tenant_id, kind, service_slug, status, input)
     values (?, ?, ?, ?, 'PENDING', ?::jsonb) returning ${WORKFLOW_COLUMNS}`,
    [id, input.tenantId, input.kind, input.serviceSlug ?? null, JSON.stringify(input.input ?? {})],
  );
  const steps = await exec<StepRow>(
    em,
    `insert into workflow_step as s (id, workflow_id, tenant_id, name, position, kind, status, max_attempts, due_at)
     select v.id, ?, ?, v.name, v.position, v.kind, 'PENDING', v.max_attempts, case when v.position = 1 then now() end
       from jsonb_to_recordset(?::jsonb) as v(id uuid, name text, position int, kind text, max_attempts int)
     returning ${STEP_COLUMNS}`,
    [
      id,
      input.tenantId,
      batch(
        definition.steps.map((step, i) => ({
          id: randomUUID(),
          name: step.name,
          position: i + 1,
          kind: step.kind,
          max_attempts: step.retry.maxAttempts,
        })),
      ),
    ],
  );
  await runHooks(em, registry, [workflow!]);
  await appendEvents(em, [eventFor(workflow!, null, "workflow.created")]);
  await wake(em, STEPS_CHANNEL);
  return workflowSnapshot(workflow!, steps.sort((a, b) => a.position - b.position));
}
