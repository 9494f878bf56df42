/**
 * The `tenant_provisioning` workflow: the nine steps of `src/tenants/steps` as action steps of the
 * engine, and the projection hook that mirrors the workflow onto the tenant row (and publishes a
 * `tenant:<slug>` event) in the same transaction as every state change.
 *
 * The definition is registered once, at import, in the engine's registry. What the steps need from
 * their process (configuration, master key) is bound per ORM by `bindTenantPipeline(app)` at
 * start-up and found again through `ctx.orm`, so several Gantry instances in one process (tests)
 * each run the pipeline with their own configuration.
 */
import type { Logger } from "pino";
import type { EntityManager, Orm } from "../db/orm.js";
import { isoTimestamp } from "../db/timestamps.js";
import { defineWorkflow, workflowRegistry, type RetryPolicy, type StepContext, type WorkflowSnapshot } from "../engine/index.js";
import { appendEvents } from "../events/index.js";
import { TENANT_STEPS, type StepDeps, type TenantRef } from "./steps/index.js";
import { projectTenant } from "./projection.js";
import { TenantEventType, tenantTopic, type TenantEventPayload } from "./events.js";

export const TENANT_PROVISIONING = "tenant_provisioning";

/** The workflow's input: what the steps need besides the tenant id. */
export interface TenantPipelineInput extends Record<string, unknown> {
  slug: string;
  name: string;
}

const bound = new WeakMap<Orm, { config: StepDeps["config"]; log: Logger }>();

/** Binds the pipeline's steps to this process's configuration (called once at start-up). */
export function bindTenantPipeline(app: { orm: Orm; config: StepDeps["config"]; log: Logger }): void {
  bound.set(app.orm, { config: app.config, log: app.log });
}

function depsFor(ctx: StepContext): StepDeps {
  const found = bound.get(ctx.orm);
  if (!found) throw new Error("the tenant pipeline is not bound to this process (bindTenantPipeline)");
  return { orm: ctx.orm, config: found.config, log: ctx.log, signal: ctx.signal };
}

function tenantOf(ctx: StepContext): TenantRef {
  const input = ctx.input as TenantPipelineInput;
  return { id: ctx.tenantId, slug: input.slug, name: input.name };
}

/**
 * Transient failures (a lost connection, a catalog that answers 503) are retried quickly; a
 * deterministic one (a broken migration) fails the workflow after a second attempt, so an admin
 * sees it in seconds rather than after minutes of backoff.
 */
const RETRY: Partial<RetryPolicy> = { maxAttempts: 3, initialDelayMs: 250, backoffFactor: 4, maxDelayMs: 10_000 };
const RETRY_MIGRATIONS: Partial<RetryPolicy> = { maxAttempts: 2, initialDelayMs: 250 };

/** Projects the workflow onto the tenant row (only from the tenant's latest pipeline) and publishes it. */
async function project(tem: EntityManager, workflow: WorkflowSnapshot): Promise<void> {
  const view = projectTenant(workflow);
  const rows = await tem.execute<
    {
      id: string;
      slug: string;
      provisioning_state: string;
      completed_steps: string[];
      failed_steps: string[];
      last_error: string | null;
      updated_at: Date;
    }[]
  >(
    `update tenant t
        set provisioning_state = case when t.provisioning_state = 'DEPROVISIONED' then t.provisioning_state else ? end,
            completed_steps = ?::jsonb, failed_steps = ?::jsonb, last_error = ?, updated_at = now()
      where t.id = ?
        and not exists (select 1 from workflow newer
                         where newer.tenant_id = t.id and newer.kind = ? and newer.id <> ?
                           and newer.created_at > (select created_at from workflow where id = ?))
      returning t.id, t.slug, t.provisioning_state, t.completed_steps, t.failed_steps, t.last_error, t.updated_at`,
    [
      view.provisioningState,
      JSON.stringify(view.completedSteps),
      JSON.stringify(view.failedSteps),
      view.lastError,
      workflow.tenantId,
      TENANT_PROVISIONING,
      workflow.id,
      workflow.id,
    ],
  );
  const row = rows[0];
  if (!row) return; // an older pipeline of a tenant that has started over: not projected
  const payload: TenantEventPayload = {
    tenant: {
      tenantId: row.id,
      slug: row.slug,
      provisioningState: row.provisioning_state,
      completedSteps: row.completed_steps,
      failedSteps: row.failed_steps,
      lastError: row.last_error,
      updatedAt: isoTimestamp(row.updated_at),
    },
    workflowId: workflow.id,
    workflowStatus: workflow.status,
    steps: (workflow.steps ?? []).map((s) => ({ name: s.name, position: s.position, status: s.status, attempt: s.attempt, error: s.error })),
  };
  await appendEvents(tem, [{ tenantId: row.id, topic: tenantTopic(row.slug), type: TenantEventType.PROVISIONING_CHANGED, payload }]);
}

export const tenantProvisioningWorkflow = workflowRegistry.register(
  defineWorkflow({
    kind: TENANT_PROVISIONING,
    steps: TENANT_STEPS.map((step) => ({
      name: step.name,
      kind: "action" as const,
      retry: step.name === "step_3" ? RETRY_MIGRATIONS : RETRY,
      timeoutMs: 120_000,
      run: async (ctx: StepContext) => ({ output: await step.run(depsFor(ctx), tenantOf(ctx)) }),
      compensate: async (ctx: StepContext) => step.compensate(depsFor(ctx), tenantOf(ctx)),
    })),
    onChange: project,
  }),
);
