/**
 * Operator actions on a workflow: retry a failed step, force-complete, roll back (compensations
 * in reverse order), cancel. Each locks the workflow's rows, checks the state allows it
 * (CONFLICT otherwise), and records who (admin key id) and why in the history.
 */
import type { EntityManager } from "../db/orm.js";
import { DomainError } from "../errors/index.js";
import { workflowRegistry, type WorkflowRegistry } from "./definitions.js";
import { lockWorkflow } from "./sql/lockWorkflow.js";
import { workflowSnapshot, type StepRow, type WorkflowRow } from "./sql/rows.js";
import { applyTransitions, type Transition } from "./transitions.js";
import type { StepStatus, WorkflowSnapshot, WorkflowStatus } from "./types.js";

export interface AdminAction {
  workflowId: string;
  /** The admin key id (never the key). */
  actor: string;
  reason?: string | null;
  /** Restrict to one tenant's workflows (null: any). */
  tenantId?: string | null;
}

const ACTIVE: StepStatus[] = ["PENDING", "RUNNING", "WAITING_CALLBACK", "WAITING_POLL"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function locked(tem: EntityManager, action: AdminAction): Promise<{ workflow: WorkflowRow; steps: StepRow[] }> {
  const found = UUID.test(action.workflowId) ? await lockWorkflow(tem, action.workflowId, action.tenantId ?? null) : undefined;
  if (!found) throw DomainError.notFound("Workflow", action.workflowId);
  return found;
}

function refuse(workflow: WorkflowRow, what: string, allowed: WorkflowStatus[]): never {
  throw DomainError.conflict(`Cannot ${what} a workflow that is ${workflow.status} (allowed when ${allowed.join(", ")})`, {
    status: workflow.status,
  });
}

function audit(action: AdminAction, extra: Record<string, unknown> = {}) {
  return { adminKeyId: action.actor, reason: action.reason ?? null, ...extra };
}

async function finish(
  tem: EntityManager,
  registry: WorkflowRegistry,
  transitions: Transition[],
  change: { id: string; status: WorkflowStatus; error?: string | null; event: string; detail: Record<string, unknown> },
): Promise<WorkflowSnapshot> {
  await applyTransitions(tem, registry, transitions, [change]);
  const again = await lockWorkflow(tem, change.id, null);
  return workflowSnapshot(again!.workflow, again!.steps);
}

/** A FAILED step back to PENDING (retryCount + 1, a fresh attempt budget); the workflow runs on. */
export async function retryWorkflowStep(
  tem: EntityManager,
  action: AdminAction & { stepName: string },
  registry: WorkflowRegistry = workflowRegistry,
): Promise<WorkflowSnapshot> {
  const { workflow, steps } = await locked(tem, action);
  const step = steps.find((s) => s.name === action.stepName);
  if (!step) throw DomainError.notFound("Step", action.stepName);
  if (step.status !== "FAILED" || workflow.status !== "FAILED") {
    throw DomainError.conflict(`Only a FAILED step of a FAILED workflow can be retried (step ${step.name} is ${step.status}, workflow is ${workflow.status})`, {
      status: step.status,
    });
  }
  const now = new Date();
  return finish(
    tem,
    registry,
    [
      {
        from: step,
        set: { status: "PENDING", dueAt: now, nextAttemptAt: null, deadlineAt: null, completedAt: null, error: null, retryCount: step.retry_count + 1, attemptBase: step.attempt },
        events: [{ type: "step.retried", detail: audit(action) }],
        then: { kind: "none" },
      },
    ],
    { id: workflow.id, status: "RUNNING", error: null, event: "workflow.step_retried", detail: audit(action, { step: step.name }) },
  );
}

const OPEN: WorkflowStatus[] = ["PENDING", "RUNNING", "WAITING", "FAILED"];

function skipActive(steps: StepRow[], action: AdminAction, why: string): Transition[] {
  return steps
    .filter((s) => ACTIVE.includes(s.status))
    .map((s) => ({
      from: s,
      set: { status: "SKIPPED" as const, dueAt: null, nextAttemptAt: null, deadlineAt: null },
      events: [{ type: "step.skipped", detail: audit(action, { why }) }],
      then: { kind: "none" as const },
    }));
}

/** Every PENDING/RUNNING/WAITING_* step SKIPPED, the workflow COMPLETED. */
export async function forceCompleteWorkflow(tem: EntityManager, action: AdminAction, registry: WorkflowRegistry = workflowRegistry): Promise<WorkflowSnapshot> {
  const { workflow, steps } = await locked(tem, action);
  if (!OPEN.includes(workflow.status)) refuse(workflow, "force-complete", OPEN);
  return finish(tem, registry, skipActive(steps, action, "force-completed"), {
    id: workflow.id,
    status: "COMPLETED",
    error: null,
    event: "workflow.force_completed",
    detail: audit(action),
  });
}

/** Stops a workflow: unfinished steps SKIPPED (a running one's result is refused by the fence). */
export async function cancelWorkflow(tem: EntityManager, action: AdminAction, registry: WorkflowRegistry = workflowRegistry): Promise<WorkflowSnapshot> {
  const { workflow, steps } = await locked(tem, action);
  if (!OPEN.includes(workflow.status)) refuse(workflow, "cancel", OPEN);
  return finish(tem, registry, skipActive(steps, action, "cancelled"), {
    id: workflow.id,
    status: "CANCELLED",
    event: "workflow.cancelled",
    detail: audit(action),
  });
}

const ROLLBACKABLE: WorkflowStatus[] = ["COMPLETED", "FAILED", "CANCELLED"];

/**
 * Runs the compensations of the completed steps, last first: the highest COMPLETED (or
 * COMPENSATION_FAILED, when retrying a rollback) step becomes COMPENSATING; each COMPENSATED
 * step hands on to the next lower one (src/engine/transitions.ts); none left → ROLLED_BACK.
 */
export async function rollbackWorkflow(tem: EntityManager, action: AdminAction, registry: WorkflowRegistry = workflowRegistry): Promise<WorkflowSnapshot> {
  const { workflow, steps } = await locked(tem, action);
  if (!ROLLBACKABLE.includes(workflow.status)) refuse(workflow, "roll back", ROLLBACKABLE);
  const undo = steps.filter((s) => s.status === "COMPLETED" || s.status === "COMPENSATION_FAILED").at(-1);
  const transitions = skipActive(steps, action, "rolled back");
  if (undo) {
    transitions.push({
      from: undo,
      set: { status: "COMPENSATING", dueAt: new Date(), nextAttemptAt: null, error: null, attemptBase: undo.attempt },
      events: [{ type: "step.compensating" }],
      then: { kind: "none" },
    });
  }
  return finish(tem, registry, transitions, {
    id: workflow.id,
    status: undo ? "ROLLING_BACK" : "ROLLED_BACK",
    error: null,
    event: "workflow.rollback_started",
    detail: audit(action, { compensations: steps.filter((s) => s.status === "COMPLETED" || s.status === "COMPENSATION_FAILED").length }),
  });
}
