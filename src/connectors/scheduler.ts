/**
 * The scheduler role: turns due ACTIVE connectors into QUEUED runs and reaps runs whose report
 * never came. Every replica runs the same loop; `FOR UPDATE SKIP LOCKED` gives each a disjoint
 * batch, and the partial unique index on in-flight runs is the last guard against a second run.
 * It wakes on `SCHEDULER_CHANNEL` (a trigger, a resume, a finished run) and polls every
 * `pollMs` as a safety net (a lost notification, a cron time coming due).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { AppServices } from "../app-services.js";
import { systemEm, type Orm } from "../db/orm.js";
import { appendEvents, wake, type EventBus } from "../events/index.js";
import type { RunningRole } from "../roles.js";
import { runEvent, runFromRow, type RunView } from "./runs.js";
import { nextRunAfter } from "./schedule.js";
import { claimDueConnectors } from "./sql/claimDueConnectors.js";
import { queueRuns, type RunToQueue } from "./sql/queueRuns.js";
import { reapExpiredRuns } from "./sql/reapExpiredRuns.js";
import { recordFailures } from "./sql/recordRunOutcome.js";
import { RUNNER_CHANNEL, SCHEDULER_CHANNEL } from "./types.js";
import { clearStagedRuns } from "../runner/loader.js";

export interface SchedulerOptions {
  /** Connectors claimed per transaction. */
  batchSize?: number;
  /** Safety poll interval (a trigger is normally picked up at once through the wake-up). */
  pollMs?: number;
  /** A QUEUED or RUNNING run unreported for this long is FAILED (and counts toward the breaker). */
  runTimeoutMs?: number;
}

export const DEFAULTS: Required<SchedulerOptions> = { batchSize: 500, pollMs: 2_000, runTimeoutMs: 60 * 60_000 };

/** One transaction: claim a batch of due connectors, queue their runs, advance their schedules. */
export async function dispatchDueConnectors(orm: Orm, batchSize: number, runTimeoutMs: number): Promise<RunView[]> {
  return systemEm(orm).transactional(async (tem) => {
    const due = await claimDueConnectors(tem, batchSize);
    if (due.length === 0) return [];
    const now = new Date();
    const runs: RunToQueue[] = due.map((c) => ({
      run_id: randomUUID(),
      connector_id: c.id,
      tenant_id: c.tenant_id,
      next_run_at: nextRunAfter(c.sync_schedule, now)?.toISOString() ?? null,
      lakehouse_table: `${c.lakehouse_namespace}.${c.destination_table}`,
      trigger: c.sync_requested_at ? "MANUAL" : "SCHEDULE",
    }));
    const queued = (await queueRuns(tem, runs, runTimeoutMs)).map(runFromRow);
    if (queued.length > 0) {
      await wake(tem, RUNNER_CHANNEL);
      await appendEvents(tem, queued.map(runEvent));
    }
    return queued;
  });
}

/** One transaction: fail a batch of overdue runs and count the failures (the breaker may open). */
export async function reapOverdueRuns(orm: Orm, batchSize: number): Promise<RunView[]> {
  return systemEm(orm).transactional(async (tem) => {
    const reaped = (await reapExpiredRuns(tem, batchSize)).map(runFromRow);
    if (reaped.length === 0) return [];
    await recordFailures(tem, [...new Set(reaped.map((r) => r.connectorId))]);
    await wake(tem, SCHEDULER_CHANNEL);
    await appendEvents(tem, reaped.map(runEvent));
    return reaped;
  });
}

export class ConnectorScheduler implements RunningRole {
  private readonly options: Required<SchedulerOptions>;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Runs queued by this process (for tests and benchmarks). */
  dispatched = 0;

  constructor(
    private readonly orm: Orm,
    private readonly events: Pick<EventBus, "onWake"> | undefined,
    private readonly log: Logger,
    options: SchedulerOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  start(): this {
    this.unsubscribe = this.events?.onWake(SCHEDULER_CHANNEL, () => this.kick());
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.timer.unref();
    this.kick();
    return this;
  }

  /** Runs a pass now, or right after the one in progress. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  /** Resolves once no pass is running (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.pass();
      } catch (err) {
        if (this.stopped) return;
        this.log.error({ err }, "connector scheduler pass failed");
      }
    } while (this.again && !this.stopped);
  }

  private async pass(): Promise<void> {
    const { batchSize, runTimeoutMs } = this.options;
    for (;;) {
      const reaped = await reapOverdueRuns(this.orm, batchSize);
      if (reaped.length > 0) {
        this.log.warn({ runs: reaped.map((r) => r.id) }, "runs timed out without a report");
        // Their runner may have died with batches staged: nothing will load them.
        await clearStagedRuns(this.orm, reaped.map((r) => r.id), this.log);
      }
      if (reaped.length < batchSize || this.stopped) break;
    }
    for (;;) {
      const queued = await dispatchDueConnectors(this.orm, batchSize, runTimeoutMs);
      this.dispatched += queued.length;
      if (queued.length > 0) this.log.debug({ count: queued.length }, "connector runs queued");
      if (queued.length < batchSize || this.stopped) break;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.running;
  }
}

export async function startConnectorScheduler(app: AppServices): Promise<RunningRole> {
  return new ConnectorScheduler(app.orm, app.events, app.log.child({ role: "scheduler" })).start();
}
