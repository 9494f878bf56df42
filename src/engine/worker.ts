/**
 * The worker: executes up to `concurrency` steps at once. Each round is one transaction that
 * commits the finished steps' results (one fenced statement for many steps), makes the next steps
 * due, appends the events, and claims the next batch of due steps (`FOR UPDATE SKIP LOCKED`). Woken by `STEPS_CHANNEL` (LISTEN/NOTIFY), by its
 * own commits, by a timer for the next known due time, and by a slow safety poll.
 *
 * Transactions are short and never span user code or a wait on another connection (the
 * embedded database has a single backend).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { systemEm, type Orm } from "../db/orm.js";
import { workflowRegistry, type WorkflowRegistry } from "./definitions.js";
import { executeStep, timedOut, type ExecuteDeps } from "./execute.js";
import type { ClaimedStep } from "./sql/claimSteps.js";
import { extendLeases } from "./sql/extendLeases.js";
import { nextDueAt } from "./sql/nextDueAt.js";
import { inRound } from "./sql/round.js";
import { isRetryableDatabaseError } from "../errors/index.js";
import { applyTransitions, type Transition, type WorkflowChange } from "./transitions.js";
import { STEPS_CHANNEL } from "./types.js";

export interface WorkerOptions {
  /** Step executions at once (default 16). */
  concurrency?: number;
  /**
   * Steps claimed ahead of free execution slots (default 0). They wait in this worker under lease
   * (already RUNNING to everyone else) and start as slots free up, so that one round's transaction
   * can commit and claim more steps at once: more throughput for tiny steps, but every held step
   * waits longer for its round (hand-off ≈ steps held ÷ steps per second) and, with steps of real
   * length, sits leased here while another worker may have a free slot. As Temporal's and
   * graphile-worker's workers do, a worker takes by default only what it can start now.
   */
  prefetch?: number;
  /** Commit-and-claim transactions in flight at once (default 2), so a commit never waits for another. */
  parallelRounds?: number;
  /** Lease length; leases are renewed every third of it while a step runs (default 30 s). */
  leaseMs?: number;
  /** Safety poll when no wake-up arrives (default 5 s). */
  pollMs?: number;
  registry?: WorkflowRegistry;
  /** Lease owner name (default `<host pid>-<random>`). */
  workerId?: string;
}

/** What the worker needs from the app (a subset of AppServices, so benches can run it bare). */
export interface WorkerHost {
  orm: Orm;
  log: Logger;
  config: { masterKey: Buffer | undefined; publicUrl: string };
  events: { onWake(channel: string, listener: () => void): () => void };
}

export const CALLBACK_PATH = "/api/v1/provisioning/callback";

/** How long claims stay on the general path after a hooked workflow's step was seen due. */
const HOOKED_CLAIMS_MS = 1_000;

/** A round aborted by a deadlock or a serialization failure is run again, up to this many times. */
const ROUND_TRIES = 5;


export interface Worker {
  readonly id: string;
  /** Executions in flight. */
  readonly running: number;
  stop(): Promise<void>;
}

export function startWorker(host: WorkerHost, options: WorkerOptions = {}): Worker {
  const concurrency = options.concurrency ?? 16;
  const capacity = concurrency + (options.prefetch ?? 0);
  const parallelRounds = options.parallelRounds ?? 2;
  const leaseMs = options.leaseMs ?? 30_000;
  const pollMs = options.pollMs ?? 5_000;
  const registry = options.registry ?? workflowRegistry;
  const id = options.workerId ?? `worker-${process.pid}-${randomUUID().slice(0, 8)}`;
  const log = host.log.child({ worker: id });
  if (!host.config.masterKey) throw new Error("the worker needs GANTRY_MASTER_KEY to seal step secrets");
  const deps: ExecuteDeps = {
    orm: host.orm,
    log,
    registry,
    masterKey: host.config.masterKey,
    callbackUrl: () => `${host.config.publicUrl}${CALLBACK_PATH}`,
    owner: id,
  };

  const stopping = new AbortController();
  /** Every step this worker holds a lease on: executing, queued for a slot, or awaiting commit. */
  const inFlight = new Map<string, { attempt: number; abort: AbortController; done: Promise<void> }>();
  const queued: (() => void)[] = [];
  let executing = 0;
  let pending: Transition[] = [];
  let dueTimer: NodeJS.Timeout | undefined;
  /** Rounds in progress, and the slots their claims may fill. */
  const rounds = new Set<Promise<void>>();
  let reserved = 0;
  let wanted = false;
  let scheduled = false;
  /**
   * Until when claims take the general path (transitions.ts): a step of a workflow with a
   * projection hook was seen due, and where there is one (a burst of tenant provisioning) more
   * follow. One-message claims skip those workflows, so each would cost a wasted round first.
   */
  let claimGeneralUntil = 0;

  /** Asks for a round: commit finished results and claim due steps (coalesced per tick). */
  const requestCycle = () => {
    wanted = true;
    if (scheduled) return;
    scheduled = true;
    // Let executions finishing in the same tick join one round.
    setImmediate(() => {
      scheduled = false;
      pump();
    });
  };

  /** Starts rounds while there is work and fewer than `parallelRounds` are in progress. */
  function pump(): void {
    while (wanted && rounds.size < parallelRounds) {
      wanted = false;
      const batch = pending;
      pending = [];
      // Steps of other rounds' batches still count as held until those rounds commit.
      const free = stopping.signal.aborted ? 0 : Math.max(0, capacity - (inFlight.size - batch.length) - reserved);
      if (batch.length === 0 && free === 0) continue;
      reserved += free;
      const round = runRound(batch, free).finally(() => {
        reserved -= free;
        rounds.delete(round);
        if (wanted || pending.length > 0) requestCycle();
      });
      rounds.add(round);
    }
  }

  /**
   * One transaction: the finished steps' results (fenced), their consequences and events, and
   * the claim of up to `free` due steps.
   */
  async function runRound(batch: Transition[], free: number): Promise<void> {
    let claimed: ClaimedStep[] = [];
    let drained = true;
    for (let tries = 1; ; tries++) {
      try {
        const applied = await inRound(host.orm, (tem) =>
          applyTransitions(tem, registry, batch, [], { claim: { owner: id, limit: free, leaseMs }, general: performance.now() < claimGeneralUntil }),
        );
        claimed = applied.claimed;
        drained = applied.drained;
        if (applied.hookedDue) claimGeneralUntil = performance.now() + HOOKED_CLAIMS_MS;
        const stale = batch.length - applied.steps.length;
        if (stale > 0) log.info({ stale }, "dropped step results whose fence no longer held (lease lost, cancelled, or finished by a callback)");
        break;
      } catch (err) {
        // Concurrent rounds (this worker's, other workers', a callback) update step and workflow
        // rows in no fixed order, so PostgreSQL may abort one as a deadlock victim. Nothing of it
        // was written and every write is fenced: run the round again. (Found by the chaos suite:
        // without this, 1,000 workflows under worker kills lost whole batches to deadlocks, their
        // steps waited out their leases as new attempts, and no workflow finished in 7 minutes.)
        if (tries < ROUND_TRIES && isRetryableDatabaseError(err)) {
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * tries));
          continue;
        }
        log.error({ err }, "committing step results failed; the steps will be reclaimed when their leases expire");
        break;
      }
    }
    for (const t of batch) inFlight.delete(t.from.id);
    for (const step of claimed) launch(step);
    // Slots left and the claim was not short of due steps (or did not run: eager continuations
    // took its slots, some workflows ended): another round may fill them now.
    if (free > 0 && (claimed.length === free || !drained)) wanted = true;
    else if (free > 0 && (batch.length === 0 || batch.some((t) => t.set.dueAt) || !dueTimer)) void scheduleNextDue();
    // Otherwise the due timer already armed stands: the future due times that can have appeared
    // since are this batch's own (retries, polls, callback deadlines: checked above) or another
    // process's, which wakes this worker (wake on STEPS_CHANNEL) into a claim-only round that
    // re-reads it. Reading it after every round cost a lone workflow ~2 ms per hand-off.
  }

  async function scheduleNextDue(): Promise<void> {
    try {
      const next = await nextDueAt(systemEm(host.orm));
      clearTimeout(dueTimer);
      const delay = next ? Math.min(pollMs, Math.max(0, next.getTime() - Date.now()) + 5) : pollMs;
      dueTimer = setTimeout(requestCycle, delay);
      dueTimer.unref();
    } catch (err) {
      log.warn({ err }, "reading the next due time failed");
    }
  }

  function launch(step: ClaimedStep): void {
    const abort = new AbortController();
    let begin: () => void = () => undefined;
    const slot = new Promise<void>((resolve) => (begin = resolve));
    if (executing < concurrency) {
      executing++;
      begin();
    } else {
      queued.push(() => {
        executing++;
        begin();
      });
    }
    const done = slot
      .then(() => (abort.signal.aborted || stopping.signal.aborted ? undefined : executeStep(step, deps, abort)))
      .then((transition) => {
        executing--;
        queued.shift()?.();
        if (!transition || (abort.signal.aborted && !timedOut(abort.signal))) {
          inFlight.delete(step.id);
          return; // lease lost or stopping: the step will be reclaimed; its result must not land
        }
        pending.push(transition);
        requestCycle();
      });
    inFlight.set(step.id, { attempt: step.attempt, abort, done });
  }

  const heartbeat = setInterval(() => {
    if (inFlight.size === 0) return;
    const held = [...inFlight].map(([stepId, f]) => ({ id: stepId, attempt: f.attempt }));
    extendLeases(systemEm(host.orm), id, held, leaseMs).then(
      (kept) => {
        const keep = new Set(kept);
        for (const h of held) {
          const f = inFlight.get(h.id);
          if (f && f.attempt === h.attempt && !keep.has(h.id) && !pending.some((t) => t.from.id === h.id)) {
            log.warn({ stepId: h.id, attempt: h.attempt }, "lease lost; abandoning the step");
            f.abort.abort(new Error("lease lost"));
          }
        }
      },
      (err: unknown) => log.warn({ err }, "extending leases failed"),
    );
  }, Math.max(50, Math.floor(leaseMs / 3)));
  heartbeat.unref();

  const unsubscribe = host.events.onWake(STEPS_CHANNEL, requestCycle);
  const safety = setInterval(requestCycle, pollMs);
  safety.unref();
  requestCycle();
  log.info({ concurrency, leaseMs, pollMs }, "worker started");

  return {
    id,
    get running() {
      return inFlight.size;
    },
    async stop() {
      unsubscribe();
      clearInterval(safety);
      clearInterval(heartbeat);
      clearTimeout(dueTimer);
      // Queued steps are given up (reclaimed after their lease); running ones get a moment to
      // finish and commit.
      stopping.abort();
      for (const start of queued.splice(0)) start();
      const grace = new Promise((r) => setTimeout(r, 2_000).unref());
      await Promise.race([Promise.allSettled([...inFlight.values()].map((f) => f.done)), grace]);
      for (const f of inFlight.values()) f.abort.abort(new Error("worker stopped"));
      while (rounds.size > 0 || pending.length > 0) {
        wanted = true;
        pump();
        await Promise.allSettled([...rounds]);
      }
      clearTimeout(dueTimer);
    },
  };
}

export type { WorkflowChange };
