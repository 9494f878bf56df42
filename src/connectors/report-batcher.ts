/**
 * Applying run reports, batched. Every event-writing transaction takes the event log's lock until
 * it commits (sequence = commit order), so one report per transaction means one WAL flush per
 * report, one after the other. Reports that arrive while a batch is being written wait for the
 * next one, which applies them all in one transaction: group commit with no added latency when
 * idle. A batch that fails as a whole (a database error) is retried report by report, so one bad
 * report cannot fail its neighbours.
 */
import type { Orm, EntityManager } from "../db/orm.js";
import { appendEventsAtCommit, wake } from "../events/index.js";
import { inRound } from "../engine/sql/round.js";
import { DomainError } from "../errors/index.js";
import { RunStatus } from "../../entities/connector/run.entity.js";
import { LOAD_INLINE, startLoads } from "./load.js";
import { runEvent, runFromRow, type RunView } from "./runs.js";
import { applyReportBatch } from "./sql/applyReport.js";
import { exec } from "./sql/exec.js";
import { SCHEDULER_CHANNEL } from "./types.js";
import type { RunReport, WebhookResult } from "./webhook.js";

export interface PendingReport {
  tenantId: string;
  webhookId: string;
  report: RunReport;
}

type Outcome = { result: WebhookResult } | { error: unknown };

/** The run is not QUEUED/RUNNING: a replay gets its stored answer; otherwise 404 or 409. */
async function finishedAlready(em: EntityManager, webhookId: string, report: RunReport): Promise<Outcome> {
  const [stored] = await exec<{ response_status: number; response_data: Record<string, unknown> }>(
    em,
    `select response_status, response_data from connector_webhook_delivery where connector_id = ? and webhook_id = ?`,
    [report.connectorId, webhookId],
  );
  if (stored) return { result: { kind: "ok", status: stored.response_status, data: stored.response_data } };
  const [run] = await exec<{ status: string }>(em, `select status from connector_run where id = ? and connector_id = ?`, [
    report.runId,
    report.connectorId,
  ]);
  if (!run) return { error: DomainError.notFound("Run", report.runId) };
  return { error: DomainError.conflict(`Run already ${run.status}; a finished run never changes`, { status: run.status }) };
}

/**
 * Applies reports in one transaction: one statement for all, the loads' enqueue, then one wake-up
 * and one event append. The transaction is driven by hand (the engine's `inRound`): BEGIN travels
 * with the batch's statement, and the wake-ups and the runs' events with COMMIT. The event log's
 * lock is taken by the load workflow's own event (startWorkflow) and then held for one round trip
 * and the commit, instead of four; while the api's event loop is busy with other requests each
 * round trip waits its turn, and every batch waits for the lock holder's.
 */
export async function applyReports(orm: Orm, reports: PendingReport[]): Promise<Outcome[]> {
  return inRound(orm, async (tem) => {
    const rows = await applyReportBatch(
      tem,
      reports.map(({ tenantId, webhookId, report }, i) => ({
        i,
        run_id: report.runId,
        connector_id: report.connectorId,
        tenant_id: tenantId,
        webhook_id: webhookId,
        rows_synced: report.rowsSynced,
        state: report.status === "success" ? report.state : null,
        ok: report.status === "success",
        error_msg: report.status === "success" ? null : (report.errorMsg ?? "The runner reported a failure"),
      })),
      LOAD_INLINE,
    );
    const byIndex = new Map(rows.map((row) => [row.i, row]));
    const outcomes: Outcome[] = [];
    const changed: RunView[] = [];
    const loading: RunView[] = [];
    for (const [i, pending] of reports.entries()) {
      const row = byIndex.get(i);
      if (!row) {
        // Not QUEUED/RUNNING (any more): a replay, a finished run, or an unknown one.
        outcomes.push(await finishedAlready(tem, pending.webhookId, pending.report));
        continue;
      }
      const run = runFromRow(row);
      // Inline load: the LOADING step happened inside the statement; publish it all the same, so
      // subscribers see the same sequence as with the loader.
      const steps: RunView[] =
        run.status === RunStatus.COMPLETED ? [{ ...run, status: RunStatus.LOADING, rowsLoaded: null, completedAt: null }, run] : [run];
      if (run.status === RunStatus.LOADING) loading.push(run);
      changed.push(...steps);
      const data = { connector_id: run.connectorId, run_id: run.id, status: steps.at(-1)!.status };
      outcomes.push({ result: { kind: "ok", status: 200, data } });
    }
    changed.push(...(await startLoads(tem, loading)));
    if (rows.some((row) => row.due)) await wake(tem, SCHEDULER_CHANNEL);
    await appendEventsAtCommit(tem, changed.map(runEvent));
    return outcomes;
  });
}

interface Waiting {
  report: PendingReport;
  resolve(result: WebhookResult): void;
  reject(err: unknown): void;
}

export class ReportBatcher {
  private queue: Waiting[] = [];
  private active = 0;

  constructor(
    private readonly orm: Orm,
    private readonly maxBatch = 200,
    /** Batches written at once: one can run its statements while another holds the event lock. */
    private readonly concurrency = 2,
  ) {}

  submit(report: PendingReport): Promise<WebhookResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ report, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.active++;
      void this.write(batch).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private async write(batch: Waiting[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await applyReports(this.orm, batch.map((w) => w.report));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      // Find the culprit: every report on its own.
      await Promise.all(batch.map((w) => this.write([w])));
      return;
    }
    outcomes.forEach((outcome, i) => ("result" in outcome ? batch[i]!.resolve(outcome.result) : batch[i]!.reject(outcome.error)));
  }
}

const batchers = new WeakMap<Orm, ReportBatcher>();

/** The process's batcher for this ORM (one per api process). */
export function reportBatcher(orm: Orm): ReportBatcher {
  let batcher = batchers.get(orm);
  if (!batcher) {
    batcher = new ReportBatcher(orm);
    batchers.set(orm, batcher);
  }
  return batcher;
}
