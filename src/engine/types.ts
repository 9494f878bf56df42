/**
 * The workflow engine's public types. `src/engine` knows nothing of GraphQL, HTTP routing,
 * tenants' business or connectors: those are definitions and adapters built on top of it.
 *
 * Glossary
 * - workflow: one run of a definition for one tenant (`workflow` row): kind, input, status.
 * - definition: the code of a workflow kind (`defineWorkflow`): ordered steps and an optional
 *   projection hook. Registered in a {@link WorkflowRegistry}; looked up by kind (and, for
 *   `service_provisioning`, by service slug).
 * - step: one row of `workflow_step`, executed in `position` order. Step rows ARE the queue: a
 *   step whose `dueAt` has passed is claimable.
 * - step kind: `action` (code runs in the worker), `callback` (the worker calls an external
 *   service, which posts the result back with a single-use token), `poll` (the worker starts an
 *   external operation, then checks its status on an interval until done/failed/deadline).
 * - attempt: how many times a step has been claimed for execution. It only grows; every write a
 *   worker makes is fenced by it (`… WHERE id = $1 AND attempt = $n AND lease_owner = $o`), so
 *   a worker that lost its lease cannot commit a stale result.
 * - lease: `leasedUntil` + `leaseOwner` on a claimed step. A claimed step's `dueAt` equals its
 *   lease end, so a crashed worker's step simply becomes due again and is reclaimed (as a new
 *   attempt). Live workers extend their leases (heartbeat) while a step runs.
 * - attempt budget: `maxAttempts` per phase; a phase starts at creation, at an admin retry and
 *   at a rollback (`attemptBase` remembers where it started).
 * - compensation: the undo of a COMPLETED step, run in reverse order by a rollback; its own
 *   states COMPENSATING → COMPENSATED | COMPENSATION_FAILED, with the same retry policy.
 * - event: an append-only history row (`src/events`), written in the same transaction as the
 *   state change; its payload is a snapshot ({@link WorkflowEventPayload}) so subscribers never
 *   query.
 * - projection hook: `onChange(tem, workflow)`, called inside the same transaction after every
 *   state change of a workflow of that definition (e.g. the tenant row mirrors its pipeline).
 */
import type { Logger } from "pino";
import type { EntityManager, Orm } from "../db/orm.js";

export type JsonObject = Record<string, unknown>;

export const WORKFLOW_STATUSES = [
  "PENDING",
  "RUNNING",
  "WAITING",
  "COMPLETED",
  "FAILED",
  "ROLLING_BACK",
  "ROLLED_BACK",
  "CANCELLED",
] as const;
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number];

export const STEP_STATUSES = [
  "PENDING",
  "RUNNING",
  "WAITING_CALLBACK",
  "WAITING_POLL",
  "COMPLETED",
  "FAILED",
  "SKIPPED",
  "COMPENSATING",
  "COMPENSATED",
  "COMPENSATION_FAILED",
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const STEP_KINDS = ["action", "callback", "poll"] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Retry policy of one step: delay n = min(maxDelayMs, initialDelayMs × backoffFactor^(n−1)) ± jitter. */
export interface RetryPolicy {
  /** Executions allowed per phase, including the first (≥ 1). */
  maxAttempts: number;
  initialDelayMs: number;
  backoffFactor: number;
  maxDelayMs: number;
  /** 0–1: the delay is spread uniformly over ±jitter × delay (0 = none). */
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  initialDelayMs: 1_000,
  backoffFactor: 2,
  maxDelayMs: 60_000,
  jitter: 0.2,
};

/** What a callback step's `run` must hand to the external service. */
export interface CallbackHandle {
  /** `${publicUrl}/api/v1/provisioning/callback`. */
  url: string;
  /** Single-use, bound to this attempt, expires at `expiresAt`. Only its SHA-256 is stored. */
  token: string;
  expiresAt: Date;
}

/** Handed to `run`, `poll` and `compensate`. */
export interface StepContext {
  workflowId: string;
  tenantId: string;
  serviceSlug: string | null;
  stepName: string;
  /** Attempt number of this execution (fencing token; grows across retries and reclaims). */
  attempt: number;
  /** The workflow's input, as given to `startWorkflow`. */
  input: JsonObject;
  /** Outputs (secrets redacted) of the earlier completed steps, by step name. */
  outputs: Record<string, JsonObject>;
  /** Aborted when the step times out, the lease is lost, or the worker stops. */
  signal: AbortSignal;
  /** Idempotency key of this attempt (`<workflowId>:<stepName>:<attempt>`), for external calls. */
  idempotencyKey: string;
  log: Logger;
  orm: Orm;
  /** Decrypts the secret part of an earlier step's result (e.g. credentials from a callback). */
  secretOf(stepName: string): Promise<JsonObject | undefined>;
  /** Callback steps only: the URL and token to hand to the service. */
  callback?: CallbackHandle;
  /** Poll steps only (in `poll`): the state returned by `run` and earlier polls. */
  pollState?: JsonObject;
}

/** What `run` (or a finished poll) may return; secrets are stored encrypted, never in `output`. */
export interface StepResult {
  output?: JsonObject;
  /** Encrypted at rest; `output` shows these keys as "[redacted]". */
  secret?: JsonObject;
  /** Poll steps: handed to `poll` as `ctx.pollState`. */
  state?: JsonObject;
}

export type PollResult =
  | { status: "done"; output?: JsonObject; secret?: JsonObject }
  | { status: "pending"; state?: JsonObject; detail?: JsonObject }
  | { status: "failed"; error: string };

export interface PollPolicy {
  intervalMs: number;
  backoffFactor: number;
  maxIntervalMs: number;
}

export interface StepDefinition {
  name: string;
  kind: StepKind;
  retry?: Partial<RetryPolicy>;
  /**
   * action: the run's time limit; callback: how long the token is valid and the step waits;
   * poll: the deadline for the operation to finish, from the start of waiting.
   */
  timeoutMs?: number;
  /** action: the work. callback: send `ctx.callback` to the service. poll: start the operation. */
  run(ctx: StepContext): Promise<StepResult | void>;
  /** Poll steps: one status check. Throwing counts as a failed attempt (retried per policy). */
  poll?(ctx: StepContext): Promise<PollResult>;
  pollPolicy?: Partial<PollPolicy>;
  /** Undo of a completed step, run by a rollback in reverse step order. */
  compensate?(ctx: StepContext): Promise<void>;
}

export interface WorkflowDefinition {
  kind: string;
  /** Narrows the definition to one service (`service_provisioning` per catalogue entry). */
  serviceSlug?: string;
  steps: StepDefinition[];
  /**
   * Projection hook: called inside the transaction of every state change of a workflow of this
   * definition, after the change (and before its events are appended). Must not wait on any
   * other connection: use `tem` only, and write with SQL (`tem.execute`, query builders,
   * `appendEvents`): in a worker round `tem` drives the transaction by hand (sql/round.ts) and
   * its unit of work is never flushed.
   */
  onChange?(tem: EntityManager, workflow: WorkflowSnapshot): Promise<void>;
}

export interface StepSnapshot {
  id: string;
  workflowId: string;
  name: string;
  position: number;
  kind: StepKind;
  status: StepStatus;
  attempt: number;
  retryCount: number;
  maxAttempts: number;
  startedAt: string | null;
  completedAt: string | null;
  nextAttemptAt: string | null;
  error: string | null;
  /** Secrets redacted. */
  output: JsonObject | null;
}

export interface WorkflowSnapshot {
  id: string;
  tenantId: string;
  kind: string;
  serviceSlug: string | null;
  status: WorkflowStatus;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  /** Present in `onChange` (every step, in order); absent in event payloads. */
  steps?: StepSnapshot[];
}

/** Payload of every workflow event (topic `workflow:<id>`). */
export interface WorkflowEventPayload {
  workflow: WorkflowSnapshot;
  step: StepSnapshot | null;
  /** Type-specific detail, e.g. a poll result, the admin key id and reason of an admin action. */
  detail?: JsonObject;
}

export const WORKFLOW_TOPIC_PREFIX = "workflow:";
export const workflowTopic = (id: string) => `${WORKFLOW_TOPIC_PREFIX}${id}`;
/** Wake-up channel for workers: a step became due. */
export const STEPS_CHANNEL = "gantry_steps";
