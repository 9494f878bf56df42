/**
 * What the subscriptions scenario sends: one `workflowStepChanged` subscription per client (the
 * dashboard's workflow view), step events with the engine's payload shape, and the same data as
 * Gantry's `next` message for the bare `ws` server. Shared by the appender, the bare server and
 * the clients so both sides carry the same bytes.
 */
import type { WorkflowEventPayload } from "../src/engine/types.js";

export const SUBSCRIPTION = `subscription WorkflowStepChanged($workflowId: ID!) {
  workflowStepChanged(workflowId: $workflowId) {
    sequence occurredAt type detail
    workflow { id tenantId status error }
    step { id name position kind status attempt retryCount maxAttempts startedAt completedAt nextAttemptAt error output }
  }
}`;

/** Milliseconds on CLOCK_MONOTONIC: the same clock in every process and thread of this machine. */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export const STEPS = 5;

/** The k-th step event of a workflow: steps 1..5 start and complete in turn, then again. */
export function stepEvent(workflowId: string, tenantId: string, k: number, at: Date): { type: string; payload: WorkflowEventPayload } {
  const position = Math.floor(k / 2) % STEPS;
  const completed = k % 2 === 1;
  const iso = at.toISOString();
  return {
    type: completed ? "step.completed" : "step.started",
    payload: {
      workflow: {
        id: workflowId,
        tenantId,
        kind: "bench_watch",
        serviceSlug: null,
        status: "RUNNING",
        error: null,
        createdAt: iso,
        updatedAt: iso,
        completedAt: null,
      },
      step: {
        id: `${workflowId.slice(0, 24)}${String(position).padStart(12, "0")}`,
        workflowId,
        name: `s${position + 1}`,
        position,
        kind: "action",
        status: completed ? "COMPLETED" : "RUNNING",
        attempt: 1,
        retryCount: 0,
        maxAttempts: 3,
        startedAt: iso,
        completedAt: completed ? iso : null,
        nextAttemptAt: null,
        error: null,
        output: completed ? { ok: true } : null,
      },
    },
  };
}

/** The `data` of the `next` message Gantry sends for this event (the bare server sends the same). */
export function nextData(sequence: number, occurredAt: Date, event: ReturnType<typeof stepEvent>): unknown {
  const { workflow, step } = event.payload;
  return {
    workflowStepChanged: {
      sequence,
      occurredAt: occurredAt.toISOString(),
      type: event.type,
      detail: null,
      workflow: { id: workflow.id, tenantId: workflow.tenantId, status: workflow.status, error: workflow.error },
      step: step && {
        id: step.id,
        name: step.name,
        position: step.position,
        kind: step.kind,
        status: step.status,
        attempt: step.attempt,
        retryCount: step.retryCount,
        maxAttempts: step.maxAttempts,
        startedAt: step.startedAt,
        completedAt: step.completedAt,
        nextAttemptAt: step.nextAttemptAt,
        error: step.error,
        output: step.output,
      },
    },
  };
}

/** Messages between the orchestrator and the appender / bare server (IPC). */
export interface RunCommand {
  type: "run";
  rate: number;
  seconds: number;
}

export interface RunResult {
  type: "ran";
  /** Per committed event: its sequence, commit time (monotonicMs) and workflow index. */
  sequences: number[];
  committedAt: number[];
  workflowIndex: number[];
  seconds: number;
}

/** Events per transaction: the engine commits step transitions in rounds, not one by one. */
export const TICK_MS = 10;
