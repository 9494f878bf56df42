/**
 * The worker: claims due steps in batches, executes up to `concurrency` at once, and commits
 * their results in batches (one fenced statement for many steps, the next steps made due and
 * the events appended in the same transaction). Woken by `STEPS_CHANNEL` (LISTEN/NOTIFY), by its
 * own commits, by a timer for the next known due time, and by a slow safety poll.
 *
 * Transactions are short and never span user code or a wait on another connection (the
 * embedded database has a single backend).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { systemEm, type Orm } from "../db/orm.js";
import { workflowRegistry, type WorkflowRegistry } from "./definitions.js";
import { executeStep, type ExecuteDeps } from "./execute.js";
import { claimSteps, type ClaimedStep } from "./sql/claimSteps.js";
import { extendLeases } from "./sql/extendLeases.js";
import { nextDueAt } from "./sql/nextDueAt.js";
import { applyTransitions, type Transition, type WorkflowChange } from "./transitions.js";
import { appendEvents } from "../events/index.js";
import { eventFor } from "./transitions.js";
import { STEPS_CHANNEL } from "./types.js";
import { updateWorkflows } from "./sql/updateWorkflows.js";
import { runHooks } from "./transitions.js";

export interface WorkerOptions {
  /** Step executions at once (default 16). */
  concurrency?: number;
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

export interface Worker {
  readonly id: string;
  /** Executions in flight. */
  readonly running: number;
  stop(): Promise<void>;
}

export function startWorker(host: WorkerHost, options: WorkerOptions = {}): Worker {
  const concurrency = options.concurrency ?? 16;
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
  const inFlight = new Map<string, { attempt: number; abort: AbortController; done: Promise<void> }>();
  let pending: Transition[] = [];
  let claiming = false;
  let claimAgain = false;
  let flushing: Promise<void> | undefined;
  let dueTimer: NodeJS.Timeout | undefined;

  const requestClaim = () => {
    if (stopping.signal.aborted) return;
    if (claiming) {
      claimAgain = true;
      return;
    }
    claiming = true;
    void claimLoop().finally(() => {
      claiming = false;
    });
  };

  async function claimLoop(): Promise<void> {
    do {
      claimAgain = false;
      const free = concurrency - inFlight.size;
      if (free <= 0 || stopping.signal.aborted) return;
      let claimed: ClaimedStep[];
      try {
        claimed = await claim(free);
      } catch (err) {
        log.error({ err }, "claiming steps failed");
        return;
      }
      for (const step of claimed) launch(step);
      if (claimed.length === free) claimAgain = true;
      else await scheduleNextDue();
    } while (claimAgain);
  }

  /** One transaction: the claim, PENDING workflows set RUNNING, `step.started` events. */
  async function claim(limit: number): Promise<ClaimedStep[]> {
    return systemEm(host.orm).transactional(async (tem) => {
      const claimed = await claimSteps(tem, id, limit, leaseMs);
      const started = claimed.filter((s) => s.prev_status === "PENDING" || s.reclaimed);
      if (started.length === 0) return claimed;
      const toRunning = [...new Set(started.filter((s) => s.workflow.status === "PENDING").map((s) => s.workflow_id))];
      const updated = new Map((await updateWorkflows(tem, toRunning.map((w) => ({ id: w, status: "RUNNING" })))).map((w) => [w.id, w]));
      // Every workflow with a step just started changed (a step went RUNNING): project it.
      const changed = new Map(started.map((s) => [s.workflow_id, updated.get(s.workflow_id) ?? s.workflow]));
      await runHooks(tem, registry, [...changed.values()]);
      await appendEvents(
        tem,
        started.map((s) =>
          eventFor(updated.get(s.workflow_id) ?? s.workflow, s, "step.started", s.reclaimed ? { reclaimed: true } : undefined),
        ),
      );
      return claimed;
    });
  }

  async function scheduleNextDue(): Promise<void> {
    const next = await nextDueAt(systemEm(host.orm));
    clearTimeout(dueTimer);
    const delay = next ? Math.min(pollMs, Math.max(0, next.getTime() - Date.now()) + 5) : pollMs;
    dueTimer = setTimeout(requestClaim, delay);
    dueTimer.unref();
  }

  function launch(step: ClaimedStep): void {
    const abort = new AbortController();
    const onStop = () => abort.abort(new Error("worker stopping"));
    stopping.signal.addEventListener("abort", onStop, { once: true });
    const done = executeStep(step, deps, abort.signal).then((transition) => {
      stopping.signal.removeEventListener("abort", onStop);
      if (abort.signal.aborted) {
        inFlight.delete(step.id);
        return; // lease lost or stopping: the step will be reclaimed; its result must not land
      }
      pending.push(transition);
      scheduleFlush();
    });
    inFlight.set(step.id, { attempt: step.attempt, abort, done });
  }

  function scheduleFlush(): void {
    if (flushing) return;
    flushing = (async () => {
      // Let executions finishing in the same tick join the batch.
      await new Promise((r) => setImmediate(r));
      while (pending.length > 0) {
        const batch = pending;
        pending = [];
        let madeDue = 0;
        try {
          const applied = await systemEm(host.orm).transactional((tem) => applyTransitions(tem, registry, batch));
          madeDue = applied.madeDue;
          const stale = batch.length - applied.steps.length;
          if (stale > 0) log.warn({ stale }, "dropped stale step results (lease lost)");
        } catch (err) {
          log.error({ err }, "committing step results failed; the steps will be reclaimed when their leases expire");
        }
        for (const t of batch) inFlight.delete(t.from.id);
        if (madeDue > 0 || inFlight.size < concurrency) requestClaim();
      }
    })().finally(() => {
      flushing = undefined;
      if (pending.length > 0) scheduleFlush();
    });
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

  const unsubscribe = host.events.onWake(STEPS_CHANNEL, requestClaim);
  const safety = setInterval(requestClaim, pollMs);
  safety.unref();
  requestClaim();
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
      // Give running steps a moment to finish and commit; the rest are reclaimed after their lease.
      const grace = new Promise((r) => setTimeout(r, 2_000).unref());
      await Promise.race([Promise.allSettled([...inFlight.values()].map((f) => f.done)), grace]);
      stopping.abort();
      while (flushing) await flushing;
      while (claiming) await new Promise((r) => setTimeout(r, 5));
    },
  };
}

export type { WorkflowChange };
