import type { EntityManager } from "../../db/orm.js";
import type { JsonObject, StepStatus } from "../types.js";
import { batch, exec } from "./exec.js";
import { STEP_COLUMNS, type StepRow } from "./rows.js";

/** The new values of one step, and the fence its write must pass. */
export interface StepWrite {
  id: string;
  /** Fence: the write applies only if the row still has this attempt, status and lease owner. */
  attempt: number;
  fromStatus: StepStatus;
  leaseOwner: string | null;
  status: StepStatus;
  dueAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  nextAttemptAt: string | null;
  deadlineAt: string | null;
  error: string | null;
  output: JsonObject | null;
  secretOutput: string | null;
  state: JsonObject | null;
  retryCount: number;
  attemptBase: number;
}

/**
 * Writes many steps in one fenced statement and releases their leases. A write whose fence no
 * longer holds (the lease was lost and the step reclaimed, an admin cancelled it, a callback
 * already finished it) changes nothing and is absent from the result: the caller drops it.
 */
export async function writeSteps(em: EntityManager, writes: StepWrite[]): Promise<StepRow[]> {
  if (writes.length === 0) return [];
  return exec<StepRow>(
    em,
    `update workflow_step s set
       status = v.status, due_at = v.due_at, started_at = v.started_at, completed_at = v.completed_at,
       next_attempt_at = v.next_attempt_at, deadline_at = v.deadline_at, error = v.error, output = v.output,
       secret_output = v.secret_output, state = v.state, retry_count = v.retry_count, attempt_base = v.attempt_base,
       leased_until = null, lease_owner = null, updated_at = now()
     from jsonb_to_recordset(?::jsonb) as v(id uuid, attempt int, from_status text, lease_owner text, status text,
       due_at timestamptz, started_at timestamptz, completed_at timestamptz, next_attempt_at timestamptz,
       deadline_at timestamptz, error text, output jsonb, secret_output text, state jsonb, retry_count int, attempt_base int)
     where s.id = v.id and s.attempt = v.attempt and s.status = v.from_status
       and s.lease_owner is not distinct from v.lease_owner
     returning ${STEP_COLUMNS}`,
    [
      batch(
        writes.map((w) => ({
          id: w.id,
          attempt: w.attempt,
          from_status: w.fromStatus,
          lease_owner: w.leaseOwner,
          status: w.status,
          due_at: w.dueAt,
          started_at: w.startedAt,
          completed_at: w.completedAt,
          next_attempt_at: w.nextAttemptAt,
          deadline_at: w.deadlineAt,
          error: w.error,
          output: w.output,
          secret_output: w.secretOutput,
          state: w.state,
          retry_count: w.retryCount,
          attempt_base: w.attemptBase,
        })),
      ),
    ],
  );
}
