/** Row shapes the engine's SQL returns, and their snapshots (what events and hooks see). */
import type { JsonObject, StepKind, StepSnapshot, StepStatus, WorkflowSnapshot, WorkflowStatus } from "../types.js";
import { isoTimestampOrNull as iso } from "../../db/timestamps.js";

export const STEP_COLUMNS = `s.id, s.workflow_id, s.tenant_id, s.name, s.position, s.kind, s.status, s.attempt, s.attempt_base,
  s.retry_count, s.max_attempts, s.due_at, s.leased_until, s.lease_owner, s.started_at, s.completed_at,
  s.next_attempt_at, s.deadline_at, s.error, s.output, s.secret_output, s.state`;

export const WORKFLOW_COLUMNS = `w.id, w.tenant_id, w.kind, w.service_slug, w.status, w.input, w.error, w.created_at, w.updated_at, w.completed_at`;

export interface StepRow {
  id: string;
  workflow_id: string;
  tenant_id: string;
  name: string;
  position: number;
  kind: StepKind;
  status: StepStatus;
  attempt: number;
  attempt_base: number;
  retry_count: number;
  max_attempts: number;
  due_at: Date | null;
  leased_until: Date | null;
  lease_owner: string | null;
  started_at: Date | null;
  completed_at: Date | null;
  next_attempt_at: Date | null;
  deadline_at: Date | null;
  error: string | null;
  output: JsonObject | null;
  secret_output: string | null;
  state: JsonObject | null;
}

export interface WorkflowRow {
  id: string;
  tenant_id: string;
  kind: string;
  service_slug: string | null;
  status: WorkflowStatus;
  input: JsonObject;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export function stepSnapshot(row: StepRow): StepSnapshot {
  return {
    id: row.id,
    workflowId: row.workflow_id,
    name: row.name,
    position: row.position,
    kind: row.kind,
    status: row.status,
    attempt: row.attempt,
    retryCount: row.retry_count,
    maxAttempts: row.max_attempts,
    startedAt: iso(row.started_at),
    completedAt: iso(row.completed_at),
    nextAttemptAt: iso(row.next_attempt_at),
    error: row.error,
    output: row.output,
  };
}

export function workflowSnapshot(row: WorkflowRow, steps?: StepRow[]): WorkflowSnapshot {
  const snapshot: WorkflowSnapshot = {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind,
    serviceSlug: row.service_slug,
    status: row.status,
    error: row.error,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    completedAt: iso(row.completed_at),
  };
  if (steps) snapshot.steps = steps.map(stepSnapshot);
  return snapshot;
}

/**
 * The same snapshots composed by the server, for the one-statement round (commitRound.ts):
 * `stepSnapshotSql("d")` is {@link stepSnapshot} of the step row aliased `d`. Timestamps in the
 * form of `isoTimestamp` (the columns are `timestamptz(3)`, so no digit is cut).
 */
const isoSql = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export const stepSnapshotSql = (s: string) =>
  `jsonb_build_object('id', ${s}.id, 'workflowId', ${s}.workflow_id, 'name', ${s}.name, 'position', ${s}.position, 'kind', ${s}.kind,
     'status', ${s}.status, 'attempt', ${s}.attempt, 'retryCount', ${s}.retry_count, 'maxAttempts', ${s}.max_attempts,
     'startedAt', ${isoSql(`${s}.started_at`)}, 'completedAt', ${isoSql(`${s}.completed_at`)},
     'nextAttemptAt', ${isoSql(`${s}.next_attempt_at`)}, 'error', ${s}.error, 'output', ${s}.output)`;

export const workflowSnapshotSql = (w: string) =>
  `jsonb_build_object('id', ${w}.id, 'tenantId', ${w}.tenant_id, 'kind', ${w}.kind, 'serviceSlug', ${w}.service_slug,
     'status', ${w}.status, 'error', ${w}.error, 'createdAt', ${isoSql(`${w}.created_at`)},
     'updatedAt', ${isoSql(`${w}.updated_at`)}, 'completedAt', ${isoSql(`${w}.completed_at`)})`;
