/**
 * `createTenant`: inserts the tenant row and starts its `tenant_provisioning` workflow in one
 * transaction, and returns at once (the worker runs the steps). Re-submitting a slug:
 * - PROVISIONING or ACTIVE: nothing happens, the tenant is returned as it is;
 * - FAILED with a FAILED pipeline: the failed step is retried and the pipeline runs on from there
 *   (completed steps are not executed again);
 * - FAILED after a rollback or a cancel: a new pipeline starts (every step is idempotent);
 * - DEPROVISIONED: CONFLICT (the slug stays taken; the data is kept).
 * Concurrent calls for one slug meet at the unique slug: `insert … on conflict do nothing`, then
 * the row is locked, so exactly one call inserts and starts a workflow.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "../db/orm.js";
import { Tenant, ProvisioningState } from "../../entities/tenant/tenant.entity.js";
import { Workflow } from "../../entities/workflow/workflow.entity.js";
import { WorkflowStep } from "../../entities/workflow/workflow-step.entity.js";
import { DomainError } from "../errors/index.js";
import { retryWorkflowStep, startWorkflow } from "../engine/index.js";
import { validateSlug } from "./slug.js";
import { tenantIdentifiers } from "./steps/index.js";
import { TENANT_PROVISIONING, type TenantPipelineInput } from "./workflow.js";

export interface CreateTenantInput {
  slug: string;
  name: string;
}

export type CreateTenantOutcome = "started" | "resumed" | "restarted" | "unchanged";

const MAX_NAME = 200;

export function validateCreateTenantInput(input: CreateTenantInput, namespacePrefix: string): CreateTenantInput {
  validateSlug(input.slug, "input.slug");
  try {
    tenantIdentifiers(namespacePrefix, input.slug);
  } catch (err) {
    if (err instanceof DomainError) throw DomainError.badInput("input.slug", err.message.replace(/^[^:]*: /, ""));
    throw err;
  }
  const name = input.name.trim();
  if (name.length === 0 || name.length > MAX_NAME) throw DomainError.badInput("input.name", `must be 1–${MAX_NAME} characters long`);
  return { slug: input.slug, name };
}

async function startPipeline(tem: EntityManager, tenant: { id: string; slug: string; name: string }): Promise<void> {
  const input: TenantPipelineInput = { slug: tenant.slug, name: tenant.name };
  await startWorkflow(tem, { kind: TENANT_PROVISIONING, tenantId: tenant.id, input });
}

/** `em` must see every tenant (admin). `actor` is the admin key id, recorded on a resume. */
export async function createTenant(
  em: EntityManager,
  raw: CreateTenantInput,
  options: { namespacePrefix: string; actor: string },
): Promise<{ tenant: Tenant; outcome: CreateTenantOutcome }> {
  const input = validateCreateTenantInput(raw, options.namespacePrefix);
  const outcome = await em.transactional(async (tem): Promise<CreateTenantOutcome> => {
    const inserted = await tem.execute<{ id: string }[]>(
      `insert into tenant (id, slug, name) values (?, ?, ?) on conflict (slug) do nothing returning id`,
      [randomUUID(), input.slug, input.name],
    );
    const [row] = await tem.execute<{ id: string; slug: string; name: string; provisioning_state: ProvisioningState }[]>(
      `select id, slug, name, provisioning_state from tenant where slug = ? for update`,
      [input.slug],
    );
    if (!row) throw new Error(`tenant ${input.slug} vanished while being created`);
    if (inserted.length === 1) {
      await startPipeline(tem, row);
      return "started";
    }
    switch (row.provisioning_state) {
      case ProvisioningState.PROVISIONING:
      case ProvisioningState.ACTIVE:
        return "unchanged";
      case ProvisioningState.DEPROVISIONED:
        throw DomainError.conflict(`Tenant "${input.slug}" is deprovisioned; its slug cannot be reused`);
      case ProvisioningState.FAILED:
        break;
    }
    const latest = await tem.findOne(
      Workflow,
      { tenant: row.id, kind: TENANT_PROVISIONING },
      { orderBy: { createdAt: "desc", id: "desc" } },
    );
    if (!latest || latest.status === "ROLLED_BACK" || latest.status === "CANCELLED") {
      await startPipeline(tem, row);
      return "restarted";
    }
    if (latest.status !== "FAILED") {
      throw DomainError.conflict(`Tenant "${input.slug}" cannot be resumed while its pipeline is ${latest.status}`);
    }
    const failed = await tem.findOne(WorkflowStep, { workflow: latest.id, status: "FAILED" }, { orderBy: { position: "asc" } });
    if (!failed) throw DomainError.conflict(`Tenant "${input.slug}" has a FAILED pipeline with no failed step`);
    await retryWorkflowStep(tem, {
      workflowId: latest.id,
      stepName: failed.name,
      actor: options.actor,
      reason: "createTenant re-submitted",
    });
    return "resumed";
  });
  const tenant = await em.findOneOrFail(Tenant, { slug: input.slug }, { refresh: true });
  return { tenant, outcome };
}
