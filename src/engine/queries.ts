/**
 * Workflow reads for the API. The EntityManager passed in is already scoped by the tenant
 * filter, so a tenant never sees another tenant's workflow (it reads as NOT_FOUND).
 */
import type { EntityManager } from "../db/orm.js";
import { Workflow } from "../../entities/workflow/workflow.entity.js";
import { WorkflowStep } from "../../entities/workflow/workflow-step.entity.js";
import { DomainError } from "../errors/index.js";
import { listEvents, type StoredEvent } from "../events/index.js";
import { workflowTopic, type WorkflowStatus } from "./types.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface WorkflowFilter {
  tenantId?: string | null;
  kind?: string | null;
  serviceSlug?: string | null;
  status?: WorkflowStatus | null;
}

export interface Page {
  size: number;
  after: { key: string; id: string } | undefined;
}

export async function getWorkflow(em: EntityManager, id: string): Promise<Workflow> {
  const workflow = UUID.test(id) ? await em.findOne(Workflow, { id }) : null;
  if (!workflow) throw DomainError.notFound("Workflow", id);
  return workflow;
}

/** Newest first, keyset-paginated on (createdAt, id); fetches one extra row. */
export async function listWorkflows(em: EntityManager, filter: WorkflowFilter, page: Page): Promise<Workflow[]> {
  const where: Record<string, unknown> = {};
  if (filter.tenantId) where.tenant = filter.tenantId;
  if (filter.kind) where.kind = filter.kind;
  if (filter.serviceSlug) where.serviceSlug = filter.serviceSlug;
  if (filter.status) where.status = filter.status;
  if (page.after) {
    const at = new Date(page.after.key);
    where.$or = [{ createdAt: { $lt: at } }, { createdAt: at, id: { $lt: page.after.id } }];
  }
  return em.find(Workflow, where, { orderBy: { createdAt: "desc", id: "desc" }, limit: page.size + 1 });
}

/** The most recent workflow of a service for the caller's tenant, or null. */
export async function latestServiceWorkflow(em: EntityManager, serviceSlug: string, tenantId?: string): Promise<Workflow | null> {
  const where = { kind: "service_provisioning", serviceSlug, ...(tenantId ? { tenant: tenantId } : {}) };
  return em.findOne(Workflow, where, { orderBy: { createdAt: "desc", id: "desc" } });
}

/** Steps of many workflows in one query, in order, grouped by workflow id. */
export async function stepsOf(em: EntityManager, workflowIds: readonly string[]): Promise<WorkflowStep[][]> {
  const rows = await em.find(WorkflowStep, { workflow: { $in: [...workflowIds] } }, { orderBy: { position: "asc" } });
  const grouped = new Map<string, WorkflowStep[]>();
  for (const row of rows) {
    const key = row.workflow.id;
    grouped.set(key, [...(grouped.get(key) ?? []), row]);
  }
  return workflowIds.map((id) => grouped.get(id) ?? []);
}

/** A workflow's history, oldest first (the caller has already checked it may see the workflow). */
export async function workflowHistory(em: EntityManager, workflowId: string, after = 0, limit = 1000): Promise<StoredEvent[]> {
  return listEvents(em, { topics: [workflowTopic(workflowId)], after, limit });
}
