/** Starting a workflow: rows and event written in the caller's transaction (the enqueue seam). */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "../db/orm.js";
import { appendEventsAtCommit, wake } from "../events/index.js";
import { workflowRegistry, type WorkflowRegistry } from "./definitions.js";
import { exec, batch } from "./sql/exec.js";
import { roundContextOf, type Statement } from "./sql/round.js";
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
  const statements: Statement[] = [
    [
      `insert into workflow as w (id, tenant_id, kind, service_slug, status, input)
     values (?, ?, ?, ?, 'PENDING', ?::jsonb) returning ${WORKFLOW_COLUMNS}`,
      [id, input.tenantId, input.kind, input.serviceSlug ?? null, JSON.stringify(input.input ?? {})],
    ],
    [
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
    ],
  ];
  // In a hand-driven round (sql/round.ts) both inserts travel in one message.
  const round = roundContextOf(em);
  const [workflows, steps] = (
    round ? await round.many(statements) : [await exec(em, ...statements[0]!), await exec(em, ...statements[1]!)]
  ) as [WorkflowRow[], StepRow[]];
  const workflow = workflows[0];
  await runHooks(em, registry, [workflow!]);
  // With the commit when the transaction can (a round): the event log's lock is then held for the
  // commit only, not from here across the caller's remaining round trips.
  await appendEventsAtCommit(em, [eventFor(workflow!, null, "workflow.created")]);
  await wake(em, STEPS_CHANNEL);
  return workflowSnapshot(workflow!, steps.sort((a, b) => a.position - b.position));
}
