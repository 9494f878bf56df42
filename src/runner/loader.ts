/**
 * The loader: a job on the engine's workers, started by a successful report (the webhook's
 * transaction calls `startLoad`, which starts a `connector_load` workflow of one action step).
 * It maps and upserts the run's staged rows, then in one transaction COMPLETES the run with
 * `rowsLoaded`/`transformErrors` and commits the reported STATE (so the STATE never gets ahead of
 * the rows), and finally clears the run's staging. Upserts are idempotent, so a retried attempt
 * (a crashed worker, a transient error) simply loads again; after the last attempt the run FAILS.
 */
import { systemEm, type EntityManager, type Orm } from "../db/orm.js";
import { appendEvents, wake } from "../events/index.js";
import { startWorkflow, workflowRegistry, type StepContext } from "../engine/index.js";
import { completeLoadedRun } from "../connectors/load.js";
import { RUN_COLUMNS, runEvent, runFromRow, type RunRow } from "../connectors/runs.js";
import { exec } from "../connectors/sql/exec.js";
import { recordFailures } from "../connectors/sql/recordRunOutcome.js";
import { SCHEDULER_CHANNEL } from "../connectors/types.js";
import { stagingSchemaName } from "../tenants/naming.js";
import { withPgClient, withSpareClients } from "./db.js";
import { loadStagedRun } from "./load.js";
import type { MappingSpec } from "./load-plan.js";
import { deleteStagedRun } from "./staging.js";

export const LOAD_WORKFLOW_KIND = "connector_load";
export const LOAD_ATTEMPTS = 3;

interface LoadTarget {
  status: string;
  tenant_id: string;
  connector_id: string;
  lakehouse_namespace: string;
  destination_table: string;
  source_system: string;
  slug: string;
}

/**
 * The staging schema of a run's connector. The deployment's namespace prefix is read off the
 * connector's namespace (`<prefix>_tenant_<slug>`), so a worker needs no runner configuration.
 */
export function stagingSchemaOf(target: Pick<LoadTarget, "lakehouse_namespace" | "slug" | "source_system">): string {
  const suffix = `_tenant_${target.slug.replace(/-/g, "_")}`;
  const ns = target.lakehouse_namespace;
  if (!ns.endsWith(suffix)) throw new Error(`namespace ${ns} does not end with ${suffix}`);
  return stagingSchemaName(ns.slice(0, -suffix.length), target.slug, target.source_system);
}

/**
 * Clears the staging of runs that ended without a load: reaped at their deadline because their
 * runner died mid-sync (found by the chaos suite: a SIGKILLed runner's staged batches stayed
 * forever). Called after the reaping committed; best effort, since nothing ever reads a FAILED
 * run's staging, a failure here only leaves rows behind (logged).
 */
export async function clearStagedRuns(orm: Orm, runIds: string[], log: { warn(obj: object, msg: string): void }): Promise<void> {
  if (runIds.length === 0) return;
  let targets: Array<LoadTarget & { id: string }>;
  try {
    targets = await exec<LoadTarget & { id: string }>(
      systemEm(orm),
      `select r.id, c.lakehouse_namespace, c.source_system, t.slug
         from connector_run r join connector c on c.id = r.connector_id join tenant t on t.id = r.tenant_id
        where r.id in (select value::uuid from jsonb_array_elements_text(?::jsonb))`,
      [JSON.stringify(runIds)],
    );
  } catch (err) {
    return log.warn({ err, runIds }, "clearing reaped runs' staging failed");
  }
  for (const target of targets) {
    await withPgClient(orm, (db) => deleteStagedRun(db, stagingSchemaOf(target), target.id)).catch((err: unknown) =>
      log.warn({ err, runId: target.id }, "clearing a reaped run's staging failed"),
    );
  }
}

/** Fails a LOADING run whose load could not finish (counted toward the breaker). */
async function failLoadingRun(orm: Orm, runId: string, message: string): Promise<void> {
  await systemEm(orm).transactional(async (tem) => {
    const rows = await exec<RunRow>(
      tem,
      `update connector_run set status = 'FAILED', error_msg = ?, completed_at = now()
        where id = ? and status = 'LOADING' returning ${RUN_COLUMNS}`,
      [message.slice(0, 4000), runId],
    );
    if (!rows[0]) return;
    const run = runFromRow(rows[0]);
    await recordFailures(tem, [run.connectorId]);
    await wake(tem, SCHEDULER_CHANNEL);
    await appendEvents(tem, [runEvent(run)]);
  });
}

/**
 * One load job covers the runs one webhook batch moved to LOADING (one run when reports arrive
 * one at a time). Each run loads and completes on its own; a run whose load throws does not stop
 * the others, and the step then fails so that the retry loads only what is still LOADING.
 */
async function runLoads(ctx: StepContext): Promise<{ output: Record<string, unknown> }> {
  // `runId`: jobs enqueued before loads were batched.
  const runIds = Array.isArray(ctx.input.runIds) ? (ctx.input.runIds as string[]) : [ctx.input.runId as string];
  const outputs: Record<string, unknown>[] = [];
  let failure: unknown;
  for (const runId of runIds) {
    if (ctx.signal.aborted) throw new Error("load aborted (lease lost or worker stopping)");
    try {
      outputs.push((await runLoad(ctx, runId)).output);
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure) throw failure;
  return { output: runIds.length === 1 ? outputs[0]! : { runs: outputs } };
}

async function runLoad(ctx: StepContext, runId: string): Promise<{ output: Record<string, unknown> }> {
  const em = systemEm(ctx.orm);
  const [target] = await exec<LoadTarget>(
    em,
    `select r.status, r.tenant_id, r.connector_id, c.lakehouse_namespace, c.destination_table, c.source_system, t.slug
       from connector_run r join connector c on c.id = r.connector_id join tenant t on t.id = r.tenant_id
      where r.id = ?`,
    [runId],
  );
  if (!target || target.status !== "LOADING") return { output: { skipped: target ? `run is ${target.status}` : "run deleted" } };
  const stagingSchema = stagingSchemaOf(target);
  try {
    const mappings = await exec<{ stream: string; source_field: string; destination_column: string; transform: string | null; data_type: string | null; is_key: boolean }>(
      em,
      `select stream, source_field, destination_column, transform, data_type, is_key from connector_field_mapping where connector_id = ? order by position`,
      [target.connector_id],
    );
    const specs: MappingSpec[] = mappings.map((m) => ({
      stream: m.stream,
      sourceField: m.source_field,
      destinationColumn: m.destination_column,
      transform: m.transform,
      dataType: m.data_type,
      isKey: m.is_key,
    }));
    const started = performance.now();
    ctx.log.debug({ runId }, "load started");
    // A spare connection, when there is one, loads pages in parallel into an empty table (see load.ts).
    let connections = 1;
    const result = await withPgClient(ctx.orm, (db) =>
      withSpareClients(ctx.orm, (writers) => {
        connections += writers.length;
        return loadStagedRun(db, { stagingSchema, runId, namespace: target.lakehouse_namespace, table: target.destination_table, mappings: specs, writers });
      }),
    );
    if (ctx.signal.aborted) throw new Error("load aborted (lease lost or worker stopping)");
    await em.transactional(async (tem) => {
      const run = await completeLoadedRun(tem, runId, result.rowsLoaded, result.transformErrors);
      await wake(tem, SCHEDULER_CHANNEL);
      await appendEvents(tem, [runEvent(run)]);
    });
    ctx.log.info({ runId, rowsLoaded: result.rowsLoaded, transformErrors: result.transformErrors, connections, ms: Math.round(performance.now() - started) }, "run loaded");
    if (result.transformErrors > 0) ctx.log.info({ runId, transformErrors: result.transformErrors, sample: result.sampleErrors }, "rows failed their transforms");
    await withPgClient(ctx.orm, (db) => deleteStagedRun(db, stagingSchema, runId)).catch((err: unknown) =>
      ctx.log.warn({ err, runId }, "clearing the run's staging failed"),
    );
    return { output: { runId, rowsLoaded: result.rowsLoaded, transformErrors: result.transformErrors } };
  } catch (err) {
    if (ctx.attempt >= LOAD_ATTEMPTS) {
      await failLoadingRun(ctx.orm, runId, `load failed: ${(err as Error).message}`);
      await withPgClient(ctx.orm, (db) => deleteStagedRun(db, stagingSchema, runId)).catch(() => undefined);
    }
    throw err;
  }
}

workflowRegistry.register({
  kind: LOAD_WORKFLOW_KIND,
  steps: [
    {
      name: "load",
      kind: "action",
      timeoutMs: 2 * 3_600_000,
      retry: { maxAttempts: LOAD_ATTEMPTS, initialDelayMs: 1_000, backoffFactor: 3, maxDelayMs: 30_000 },
      run: runLoads,
    },
  ],
});

/**
 * Enqueues the load of LOADING runs, inside the caller's (the webhook's) transaction: one job per
 * tenant for the whole batch. Starting a workflow appends its event, which takes the event log's
 * lock until commit; a job per run would hold that lock through four statements per report.
 */
export async function enqueueLoads(em: EntityManager, runs: Array<{ id: string; tenantId: string }>): Promise<void> {
  const byTenant = new Map<string, string[]>();
  for (const run of runs) byTenant.set(run.tenantId, [...(byTenant.get(run.tenantId) ?? []), run.id]);
  for (const [tenantId, runIds] of byTenant) {
    await startWorkflow(em, { kind: LOAD_WORKFLOW_KIND, tenantId, input: { runIds } });
  }
}
