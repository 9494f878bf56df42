/**
 * Applying step state changes: the one write path shared by workers, the callback endpoint and
 * admin actions. In the caller's transaction it writes the steps (one fenced statement), moves
 * the workflows on (next step due, compensation chain, final status), runs the projection hooks,
 * appends the events and wakes the workers — so a change and its consequences commit together.
 */
import { isoTimestampOrNull as iso } from "../db/timestamps.js";
import type { EntityManager } from "../db/orm.js";
import { appendEventsAtCommit, eventsAppendedBySql, wake, type NewEvent } from "../events/index.js";
import type { WorkflowRegistry } from "./definitions.js";
import { loadSteps } from "./sql/lockWorkflow.js";
import { stepSnapshot, workflowSnapshot, type StepRow, type WorkflowRow } from "./sql/rows.js";
import { startNextCompensations } from "./sql/startNextCompensations.js";
import { updateWorkflows, updateWorkflowsAtCommit, type WorkflowWrite } from "./sql/updateWorkflows.js";
import { parseWritten, writeSteps, writeStepsStatement, type StepWrite } from "./sql/writeSteps.js";
import { claimStatement, claimSteps, parseClaimed, type ClaimedStep } from "./sql/claimSteps.js";
import { roundContextOf, type RoundContext } from "./sql/round.js";
import { commitRoundStatement, GENERIC_PLAN, parseCommitRound, type RoundWrite } from "./sql/commitRound.js";
import { STEPS_CHANNEL, workflowTopic, type JsonObject, type StepStatus, type WorkflowEventPayload, type WorkflowStatus } from "./types.js";

/** What happens to the workflow once the step write has applied. */
export type Consequence =
  | { kind: "advance" }
  | { kind: "wait" }
  | { kind: "fail"; error: string }
  | { kind: "compensated" }
  | { kind: "compensationFailed"; error: string }
  | { kind: "none" };

export interface StepChange {
  status?: StepStatus;
  dueAt?: Date | null;
  startedAt?: Date | null;
  completedAt?: Date | null;
  nextAttemptAt?: Date | null;
  deadlineAt?: Date | null;
  error?: string | null;
  output?: JsonObject | null;
  secretOutput?: string | null;
  state?: JsonObject | null;
  retryCount?: number;
  attemptBase?: number;
}

export interface Transition {
  /** The row as claimed or locked: its attempt, status and lease owner are the fence. */
  from: StepRow;
  set: StepChange;
  /** Events for this step, in order (the step snapshot is filled in after the write). */
  events: { type: string; detail?: JsonObject }[];
  then: Consequence;
}

export interface WorkflowChange {
  id: string;
  status: WorkflowStatus;
  error?: string | null;
  /** Workflow-level event to append (with `detail`), if any. */
  event?: string;
  detail?: JsonObject;
}

export interface Applied {
  steps: StepRow[];
  /** Steps made due now (next steps, compensations): the caller may claim at once. */
  madeDue: number;
  /** Steps claimed in the same transaction (see {@link ApplyOptions.claim}): eager continuations first. */
  claimed: ClaimedStep[];
  /** The claim found fewer due steps than it could take: nothing else is due right now. */
  drained: boolean;
  /**
   * Whether the caller's next claim should take the general path ({@link ApplyOptions.general}):
   * the one-message claim (commitRound.ts), which leaves workflows with a projection hook alone,
   * found one of their steps due no later than the steps it took; or the general path's claim took
   * such a step (more may follow: a burst of tenant provisioning would otherwise send every other
   * claim through the one-message path only to find them again). Undefined when the round did not
   * claim.
   */
  hookedDue?: boolean;
}

export interface ApplyOptions {
  /**
   * Also claim up to `limit` steps for `owner` in the same transaction: first the next step of each
   * workflow a transition advances (eager continuation, in the write itself: see writeSteps), then
   * due steps. A worker commits its results and takes its next work in one round, so the next
   * step of a workflow starts as soon as the round commits, however long the queue.
   */
  claim?: { owner: string; limit: number; leaseMs: number };
  /** Claim due steps through the general path, which takes every workflow (see {@link Applied.hookedDue}). */
  general?: boolean;
}

function toWrite(t: Transition, eager: boolean): StepWrite {
  const r = t.from;
  const pick = <K extends keyof StepChange>(k: K, current: StepChange[K]) => (k in t.set ? t.set[k] : current);
  return {
    id: r.id,
    attempt: r.attempt,
    fromStatus: r.status,
    leaseOwner: r.lease_owner,
    status: pick("status", r.status)!,
    dueAt: iso(pick("dueAt", r.due_at)),
    startedAt: iso(pick("startedAt", r.started_at)),
    completedAt: iso(pick("completedAt", r.completed_at)),
    nextAttemptAt: iso(pick("nextAttemptAt", r.next_attempt_at)),
    deadlineAt: iso(pick("deadlineAt", r.deadline_at)),
    error: pick("error", r.error) ?? null,
    output: pick("output", r.output) ?? null,
    secretOutput: pick("secretOutput", r.secret_output) ?? null,
    state: pick("state", r.state) ?? null,
    retryCount: pick("retryCount", r.retry_count)!,
    attemptBase: pick("attemptBase", r.attempt_base)!,
    advance: t.then.kind === "advance",
    eager: eager && t.then.kind === "advance",
  };
}

/** Whether `step` has a step after it in its definition (true when the definition is unknown here). */
function hasNextStep(registry: WorkflowRegistry, step: StepRow): boolean {
  const workflow = (step as Partial<ClaimedStep>).workflow;
  const definition = workflow && registry.find(workflow.kind, workflow.service_slug);
  return !definition || step.position < definition.steps.length;
}

/**
 * Applies step transitions (fenced; stale ones are dropped) and workflow changes, with their
 * consequences, hooks, events and wake-up, in `tem`'s transaction.
 */
export async function applyTransitions(
  tem: EntityManager,
  registry: WorkflowRegistry,
  transitions: Transition[],
  workflowChanges: WorkflowChange[] = [],
  options: ApplyOptions = {},
): Promise<Applied> {
  // In a worker round, the results and the claim travel in one message (the claim, a statement
  // later, sees the next steps the write made due). Compensations need JavaScript in between.
  const round = roundContextOf(tem);
  const claim = options.claim && options.claim.limit > 0 ? options.claim : undefined;
  // Eager continuations take claim slots: at most `limit`, the first advancing transitions that
  // have a next step. A workflow's last step leaves its slot to the claim in the same message
  // (it used to take one, and a claim-only round followed: one round in six under the backlog).
  let eagerSlots = claim?.limit ?? 0;
  const writes = transitions.map((t) => toWrite(t, t.then.kind === "advance" && hasNextStep(registry, t.from) && eagerSlots-- > 0));
  const lease = claim ? { owner: claim.owner, leaseMs: claim.leaseMs } : undefined;
  const dueLimit = claim ? claim.limit - writes.filter((w) => w.eager).length : 0;
  if (round && workflowChanges.length === 0 && !(options.general && dueLimit > 0) && serverComposes(registry, transitions, writes, claim !== undefined)) {
    return commitInOneMessage(tem, round, registry, transitions, writes, claim && { ...claim, limit: Math.max(0, dueLimit) });
  }
  const together = round && transitions.length > 0 && !transitions.some((t) => t.then.kind === "compensated");
  let early: ClaimedStep[] | undefined;
  let written: StepRow[];
  let nextSteps: StepRow[];
  let continued: ClaimedStep[];
  let at: Date | null;
  if (together && dueLimit > 0) {
    const [w, c] = await round.many([writeStepsStatement(writes, lease), claimStatement(claim!.owner, dueLimit, claim!.leaseMs)]);
    ({ written, next: nextSteps, claimed: continued, at } = parseWritten(w!));
    early = parseClaimed(c!);
  } else {
    ({ written, next: nextSteps, claimed: continued, at } = await writeSteps(tem, writes, lease));
    if (together) early = [];
  }
  const byId = new Map(written.map((row) => [row.id, row]));
  const applied = transitions.filter((t) => byId.has(t.from.id));

  const workflowWrites = new Map<string, WorkflowWrite>();
  const workflowEvents = new Map<string, { type: string; detail?: JsonObject }[]>();
  const touch = (id: string, write: Partial<WorkflowWrite> = {}, event?: { type: string; detail?: JsonObject }) => {
    const current = workflowWrites.get(id) ?? { id, status: null };
    workflowWrites.set(id, { ...current, ...write });
    if (event) workflowEvents.set(id, [...(workflowEvents.get(id) ?? []), event]);
  };

  const advanced = applied.filter((t) => t.then.kind === "advance").map((t) => byId.get(t.from.id)!);
  const withNext = new Set([...nextSteps, ...continued].map((s) => s.workflow_id));
  for (const row of advanced) {
    if (withNext.has(row.workflow_id)) touch(row.workflow_id, { status: "RUNNING" });
    else touch(row.workflow_id, { status: "COMPLETED", error: null }, { type: "workflow.completed" });
  }

  const compensated = applied.filter((t) => t.then.kind === "compensated").map((t) => byId.get(t.from.id)!);
  const compensations = await startNextCompensations(
    tem,
    compensated.map((r) => ({ workflowId: r.workflow_id, belowPosition: r.position })),
  );
  const stillCompensating = new Set(compensations.map((s) => s.workflow_id));
  for (const row of compensated) {
    if (!stillCompensating.has(row.workflow_id)) touch(row.workflow_id, { status: "ROLLED_BACK" }, { type: "workflow.rolled_back" });
  }

  const due = early ?? (claim && dueLimit > 0 ? await claimSteps(tem, claim.owner, dueLimit, claim.leaseMs) : []);
  const claimed = [...continued, ...due];
  const started = claimed.filter((s) => s.prev_status === "PENDING" || s.reclaimed);
  for (const s of started) touch(s.workflow_id, s.workflow.status === "PENDING" ? { status: "RUNNING" } : {});

  for (const t of applied) {
    const id = t.from.workflow_id;
    switch (t.then.kind) {
      case "wait":
        touch(id, { status: "WAITING" });
        break;
      case "fail":
        touch(id, { status: "FAILED", error: t.then.error }, { type: "workflow.failed", detail: { error: t.then.error } });
        break;
      case "compensationFailed":
        touch(id, { status: "FAILED", error: t.then.error }, { type: "workflow.failed", detail: { error: t.then.error } });
        break;
      default:
        touch(id);
    }
  }
  for (const change of workflowChanges) {
    touch(
      change.id,
      { status: change.status, ...(change.error !== undefined ? { error: change.error } : {}) },
      change.event ? { type: change.event, detail: change.detail } : undefined,
    );
  }

  // In a worker round the workflow rows are known (read under the round's step locks: the claims'
  // rows, the transitions' claimed rows), so their update travels with COMMIT and the round is two
  // round trips, not three. Not when a projection hook must see the updated rows first.
  const updates = [...workflowWrites.values()];
  const before = new Map<string, WorkflowRow>();
  if (round && compensated.length === 0 && workflowChanges.length === 0) {
    for (const t of applied) {
      const w = (t.from as Partial<ClaimedStep>).workflow;
      if (w) before.set(w.id, w);
    }
    for (const s of claimed) before.set(s.workflow_id, s.workflow);
  }
  at ??= claimed.find((s) => s.at)?.at ?? null;
  const atCommit =
    round !== undefined &&
    at !== null &&
    updates.every((u) => before.has(u.id) && !registry.find(before.get(u.id)!.kind, before.get(u.id)!.service_slug)?.onChange);
  let workflows: Map<string, WorkflowRow>;
  if (atCommit && updates.length > 0) {
    const { statement, rows } = updateWorkflowsAtCommit(updates, before, new Date(at!));
    round.atCommit(statement);
    workflows = new Map(rows.map((w) => [w.id, w]));
  } else {
    workflows = new Map((await updateWorkflows(tem, updates)).map((w) => [w.id, w]));
    await runHooks(tem, registry, [...workflows.values()]);
  }

  const events: NewEvent[] = [];
  const push = (workflow: WorkflowRow | undefined, step: StepRow | null, type: string, detail?: JsonObject) => {
    if (workflow) events.push(eventFor(workflow, step, type, detail));
  };
  for (const t of applied) {
    const row = byId.get(t.from.id)!;
    for (const e of t.events) push(workflows.get(row.workflow_id), row, e.type, e.detail);
  }
  for (const row of compensations) push(workflows.get(row.workflow_id), row, "step.compensating");
  for (const [id, list] of workflowEvents) for (const e of list) push(workflows.get(id), null, e.type, e.detail);
  for (const s of started) push(workflows.get(s.workflow_id), s, "step.started", s.reclaimed ? { reclaimed: true } : undefined);
  await appendEventsAtCommit(tem, events);

  const madeDue = nextSteps.length + compensations.length;
  // Wake the other workers only for work this transaction did not take itself.
  const claimedIds = new Set(claimed.map((c) => c.id));
  const leftDue = [...nextSteps, ...compensations].some((s) => !claimedIds.has(s.id));
  if (leftDue || applied.some((t) => t.set.dueAt && !claimedIds.has(t.from.id))) await wake(tem, STEPS_CHANNEL);
  // A claim that took a hooked workflow's step keeps the next claim on this path (see Applied.hookedDue).
  const hookedDue = dueLimit > 0 ? due.some((s) => registry.find(s.workflow.kind, s.workflow.service_slug)?.onChange !== undefined) : undefined;
  return { steps: applied.map((t) => byId.get(t.from.id)!), madeDue, claimed, drained: dueLimit > 0 && due.length < dueLimit, hookedDue };
}

const SERVER_COMPOSED = new Set<Consequence["kind"]>(["advance", "wait", "fail", "none"]);

/**
 * Whether the server can compose the round alone (commitRound.ts): no compensation, every
 * advancing step's next one continued eagerly, no projection hook on a written step's workflow (a
 * hook needs the rows in JavaScript before COMMIT; the claim in the statement leaves hooked
 * workflows alone), and something to do.
 */
function serverComposes(registry: WorkflowRegistry, transitions: Transition[], writes: StepWrite[], claiming: boolean): boolean {
  return (
    (transitions.length > 0 || claiming) &&
    transitions.every((t, i) => {
      const workflow = (t.from as Partial<ClaimedStep>).workflow;
      const definition = workflow && registry.find(workflow.kind, workflow.service_slug);
      const w = writes[i]!;
      return SERVER_COMPOSED.has(t.then.kind) && definition !== undefined && !definition.onChange && (!w.advance || w.eager || t.from.position >= definition.steps.length);
    })
  );
}

/** The round in one message: `BEGIN; <commitRound>; COMMIT` (see commitRound.ts). */
async function commitInOneMessage(
  tem: EntityManager,
  round: RoundContext,
  registry: WorkflowRegistry,
  transitions: Transition[],
  writes: StepWrite[],
  claim: { owner: string; limit: number; leaseMs: number } | undefined,
): Promise<Applied> {
  const roundWrites: RoundWrite[] = writes.map((w, i) => ({ ...w, outcome: transitions[i]!.then as RoundWrite["outcome"], events: transitions[i]!.events }));
  // A step that will be due again later (a retry, a poll): other workers may take it then.
  if (transitions.some((t) => t.set.dueAt)) await wake(tem, STEPS_CHANNEL);
  eventsAppendedBySql(tem);
  const statement = commitRoundStatement(roundWrites, claim && { ...claim, hookedKinds: registry.hookedKinds() });
  const [, rows] = await round.commit([GENERIC_PLAN, statement]);
  const { written, next, claimed, due, hookedDue } = parseCommitRound(rows!);
  const byId = new Map(written.map((row) => [row.id, row]));
  const steps = transitions.filter((t) => byId.has(t.from.id)).map((t) => byId.get(t.from.id)!);
  const asked = claim?.limit ?? 0;
  return { steps, madeDue: next.length, claimed: [...claimed, ...due], drained: asked > 0 && due.length < asked && !hookedDue, hookedDue: asked > 0 ? hookedDue : undefined };
}

/** Calls the projection hook of every workflow whose definition has one, with all its steps. */
export async function runHooks(tem: EntityManager, registry: WorkflowRegistry, workflows: WorkflowRow[]): Promise<void> {
  const hooked = workflows.filter((w) => registry.find(w.kind, w.service_slug)?.onChange);
  if (hooked.length === 0) return;
  const steps = await loadSteps(tem, hooked.map((w) => w.id));
  for (const workflow of hooked) {
    const own = steps.filter((s) => s.workflow_id === workflow.id);
    await registry.find(workflow.kind, workflow.service_slug)!.onChange!(tem, workflowSnapshot(workflow, own));
  }
}

/** The event for a change of `workflow` (and `step`), with their snapshots as payload. */
export function eventFor(workflow: WorkflowRow, step: StepRow | null, type: string, detail?: JsonObject): NewEvent {
  const payload: WorkflowEventPayload = { workflow: workflowSnapshot(workflow), step: step ? stepSnapshot(step) : null };
  if (detail) payload.detail = detail;
  return { tenantId: workflow.tenant_id, topic: workflowTopic(workflow.id), type, payload: payload as unknown as Record<string, unknown> };
}
