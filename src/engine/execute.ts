/**
 * Executing one claimed step and deciding its transition: run / poll / compensate under a time
 * limit and an abort signal, then success, retry (backoff with jitter) or failure — as data.
 * No transaction is open while user code runs.
 */
import type { Logger } from "pino";
import type { Orm } from "../db/orm.js";
import { decryptSecret, encryptSecret, randomToken, sha256Hex } from "../crypto/index.js";
import { pollIntervalMs, retryDelayMs, type ResolvedStep, type WorkflowRegistry } from "./definitions.js";
import { insertCallbackToken } from "./sql/callbackTokens.js";
import type { ClaimedStep } from "./sql/claimSteps.js";
import { exec } from "./sql/exec.js";
import type { StepRow } from "./sql/rows.js";
import { systemEm } from "../db/orm.js";
import type { Transition } from "./transitions.js";
import type { JsonObject, StepContext, StepResult } from "./types.js";

export const REDACTED = "[redacted]";

export interface ExecuteDeps {
  orm: Orm;
  log: Logger;
  registry: WorkflowRegistry;
  masterKey: Buffer;
  /** Where callback services post results (read at call time: the URL is known after listen). */
  callbackUrl(): string;
  owner: string;
}

class StepTimeout extends Error {}

/** The step's own time limit aborted it (its result, a failed attempt, still lands). */
export const timedOut = (signal: AbortSignal): boolean => signal.reason instanceof StepTimeout;

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Splits a result into a redacted output and an encrypted secret. */
export function sealResult(masterKey: Buffer, stepId: string, result: { output?: JsonObject; secret?: JsonObject }) {
  const secretKeys = Object.keys(result.secret ?? {});
  const output: JsonObject = { ...(result.output ?? {}) };
  for (const key of secretKeys) output[key] = REDACTED;
  const secretOutput = secretKeys.length > 0 ? encryptSecret(masterKey, JSON.stringify(result.secret), stepId) : null;
  return { output, secretOutput };
}

/** The transition for a failed attempt: retry after a backoff, or fail (and the workflow with it). */
export function failAttempt(row: StepRow, step: ResolvedStep, error: string, phase: "run" | "compensate"): Transition {
  const used = row.attempt - row.attempt_base;
  if (used < step.retry.maxAttempts) {
    const delay = retryDelayMs(step.retry, used);
    const at = new Date(Date.now() + delay);
    return {
      from: row,
      set: { status: phase === "run" ? "PENDING" : "COMPENSATING", dueAt: at, nextAttemptAt: at, error, deadlineAt: null },
      events: [{ type: phase === "run" ? "step.retry_scheduled" : "step.compensation_retry_scheduled", detail: { error, delayMs: delay } }],
      then: { kind: "none" },
    };
  }
  if (phase === "compensate") {
    return {
      from: row,
      set: { status: "COMPENSATION_FAILED", dueAt: null, nextAttemptAt: null, error },
      events: [{ type: "step.compensation_failed", detail: { error } }],
      then: { kind: "compensationFailed", error: `rollback: ${row.name}: ${error}` },
    };
  }
  return {
    from: row,
    set: { status: "FAILED", dueAt: null, nextAttemptAt: null, deadlineAt: null, error },
    events: [{ type: "step.failed", detail: { error } }],
    then: { kind: "fail", error: `${row.name}: ${error}` },
  };
}

function completed(row: StepRow, deps: ExecuteDeps, result: StepResult | void, extraDetail?: JsonObject): Transition {
  const { output, secretOutput } = sealResult(deps.masterKey, row.id, result ?? {});
  return {
    from: row,
    set: { status: "COMPLETED", completedAt: new Date(), dueAt: null, nextAttemptAt: null, deadlineAt: null, error: null, output, secretOutput, state: null },
    events: [...(extraDetail ? [{ type: "step.polled", detail: extraDetail }] : []), { type: "step.completed" }],
    then: { kind: "advance" },
  };
}

/**
 * Races user code against the step's time limit. `control` is the execution's own controller
 * (the worker's, one per step: it also aborts on a lost lease or a stop); the limit aborts it with
 * a {@link StepTimeout}, rather than a second controller chained to it.
 */
async function limited<T>(timeoutMs: number, control: AbortController, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new StepTimeout(`timed out after ${timeoutMs} ms`);
      control.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([fn(control.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function contextFor(claimed: ClaimedStep, deps: ExecuteDeps, signal: AbortSignal): StepContext {
  const wf = claimed.workflow;
  let log: StepContext["log"] | undefined;
  return {
    workflowId: wf.id,
    tenantId: wf.tenant_id,
    serviceSlug: wf.service_slug,
    stepName: claimed.name,
    attempt: claimed.attempt,
    input: wf.input ?? {},
    outputs: claimed.outputs,
    signal,
    idempotencyKey: `${wf.id}:${claimed.name}:${claimed.attempt}`,
    // Made when the step first logs: a child logger per step was a visible share of a no-op
    // step's cost, and most steps never log.
    get log() {
      return (log ??= deps.log.child({ workflowId: wf.id, step: claimed.name, attempt: claimed.attempt }));
    },
    orm: deps.orm,
    async secretOf(stepName) {
      const [row] = await exec<{ id: string; secret_output: string | null }>(
        systemEm(deps.orm),
        `select id, secret_output from workflow_step where workflow_id = ? and name = ?`,
        [wf.id, stepName],
      );
      return row?.secret_output ? (JSON.parse(decryptSecret(deps.masterKey, row.secret_output, row.id)) as JsonObject) : undefined;
    },
  };
}

/** Runs one claimed step to a transition. Never throws. */
export async function executeStep(claimed: ClaimedStep, deps: ExecuteDeps, control: AbortController): Promise<Transition> {
  const definition = deps.registry.find(claimed.workflow.kind, claimed.workflow.service_slug);
  const step = definition?.steps.find((s) => s.name === claimed.name);
  if (!definition || !step) {
    // A definition removed while workflows were running: fail visibly rather than spin.
    const missing = { ...DUMMY_STEP, retry: { ...DUMMY_STEP.retry, maxAttempts: 1 } };
    return failAttempt(claimed, missing, `no definition for ${claimed.workflow.kind}/${claimed.name} in this worker`, "run");
  }
  const phase = claimed.status === "COMPENSATING" ? "compensate" : "run";
  if (claimed.attempt - claimed.attempt_base > step.retry.maxAttempts) {
    return failAttempt({ ...claimed }, { ...step, retry: { ...step.retry, maxAttempts: 0 } }, claimed.error ?? "attempts exhausted (worker lost)", phase);
  }
  try {
    switch (claimed.status) {
      case "COMPENSATING":
        await limited(step.timeoutMs, control, (signal) => step.compensate ? step.compensate(contextFor(claimed, deps, signal)) : Promise.resolve());
        return { from: claimed, set: { status: "COMPENSATED", dueAt: null, nextAttemptAt: null, error: null }, events: [{ type: "step.compensated" }], then: { kind: "compensated" } };
      case "WAITING_CALLBACK":
        return failAttempt(claimed, step, `no callback within ${step.timeoutMs} ms`, "run");
      case "WAITING_POLL":
        return await pollOnce(claimed, step, deps, control);
      default:
        return await runOnce(claimed, step, deps, control);
    }
  } catch (err) {
    return failAttempt(claimed, step, errorText(err), phase);
  }
}

async function runOnce(claimed: ClaimedStep, step: ResolvedStep, deps: ExecuteDeps, control: AbortController): Promise<Transition> {
  if (step.kind === "callback") {
    const token = randomToken(32, "gcb_");
    const expiresAt = new Date(Date.now() + step.timeoutMs);
    const issued = await insertCallbackToken(systemEm(deps.orm), {
      hash: sha256Hex(token),
      stepId: claimed.id,
      attempt: claimed.attempt,
      leaseOwner: deps.owner,
      expiresAt,
    });
    if (!issued) throw new Error("lease lost before the callback token was issued");
    // The request itself is bounded by the lease-independent HTTP timeout of the definition.
    await limited(Math.min(step.timeoutMs, 60_000), control, (signal) =>
      step.run({ ...contextFor(claimed, deps, signal), callback: { url: deps.callbackUrl(), token, expiresAt } }),
    );
    return {
      from: claimed,
      set: { status: "WAITING_CALLBACK", dueAt: expiresAt, error: null, nextAttemptAt: null },
      events: [{ type: "step.waiting_callback", detail: { expiresAt: expiresAt.toISOString() } }],
      then: { kind: "wait" },
    };
  }
  if (step.kind === "poll") {
    const result = await limited(Math.min(step.timeoutMs, 60_000), control, (signal) => step.run(contextFor(claimed, deps, signal)));
    const interval = pollIntervalMs(step.pollPolicy, 1);
    const deadline = new Date(Date.now() + step.timeoutMs);
    return {
      from: claimed,
      set: {
        status: "WAITING_POLL",
        dueAt: new Date(Math.min(Date.now() + interval, deadline.getTime())),
        deadlineAt: deadline,
        error: null,
        nextAttemptAt: null,
        state: { poll: result?.state ?? {}, polls: 0 },
        output: result?.output ?? null,
      },
      events: [{ type: "step.waiting_poll", detail: { deadlineAt: deadline.toISOString(), intervalMs: interval } }],
      then: { kind: "wait" },
    };
  }
  const result = await limited(step.timeoutMs, control, (signal) => step.run(contextFor(claimed, deps, signal)));
  return completed(claimed, deps, result);
}

/**
 * One poll. A poll that comes due after the deadline (a late or busy worker) still checks the
 * operation once before failing it: an operation that finished in time must not fail because
 * the worker was slow to look. A pending answer past the deadline fails the attempt.
 */
async function pollOnce(claimed: ClaimedStep, step: ResolvedStep, deps: ExecuteDeps, control: AbortController): Promise<Transition> {
  const state = (claimed.state ?? {}) as { poll?: JsonObject; polls?: number };
  const polls = (state.polls ?? 0) + 1;
  const deadline = claimed.deadline_at ? new Date(claimed.deadline_at).getTime() : Infinity;
  const ctx = { ...contextFor(claimed, deps, control.signal), pollState: state.poll ?? {} };
  const result = await limited(Math.min(step.timeoutMs, 60_000), control, (signal) => step.poll!({ ...ctx, signal }));
  if (result.status === "done") return completed(claimed, deps, result, { poll: polls, status: "done" });
  if (result.status === "failed") {
    const t = failAttempt(claimed, step, result.error, "run");
    t.events.unshift({ type: "step.polled", detail: { poll: polls, status: "failed", error: result.error } });
    return t;
  }
  const detail = result.detail ? { detail: result.detail } : {};
  if (Date.now() >= deadline) {
    const t = failAttempt(claimed, step, `not done by its deadline (${step.timeoutMs} ms)`, "run");
    t.events.unshift({ type: "step.polled", detail: { poll: polls, status: "pending", final: true, ...detail } });
    return t;
  }
  const interval = pollIntervalMs(step.pollPolicy, polls + 1);
  // The next poll never comes later than the deadline, so the final check happens on time.
  const next = Math.min(Date.now() + interval, deadline);
  return {
    from: claimed,
    set: { dueAt: new Date(next), state: { poll: result.state ?? state.poll ?? {}, polls } },
    events: [{ type: "step.polled", detail: { poll: polls, status: "pending", nextPollInMs: interval, ...detail } }],
    then: { kind: "none" },
  };
}

const DUMMY_STEP: ResolvedStep = {
  name: "missing",
  kind: "action",
  run: async () => undefined,
  retry: { maxAttempts: 1, initialDelayMs: 0, backoffFactor: 1, maxDelayMs: 0, jitter: 0 },
  timeoutMs: 0,
  pollPolicy: { intervalMs: 0, backoffFactor: 1, maxIntervalMs: 0 },
};
