/**
 * The stream behind `tenantProvisioningChanged(slug, since)`: the tenant's events (`tenant:<slug>`)
 * from the event bus. Without `since` it starts with a `tenant.snapshot` of the current state,
 * taken after the head sequence was read, so nothing between the snapshot and the live events is
 * lost (an event may repeat what the snapshot showed; each carries the whole state).
 */
import type { EntityManager } from "../db/orm.js";
import type { EventBus, StoredEvent } from "../events/index.js";
import { headSequence } from "../events/index.js";
import { Workflow } from "../../entities/workflow/workflow.entity.js";
import { stepsOf } from "../engine/index.js";
import type { Tenant } from "../../entities/tenant/tenant.entity.js";
import { getTenantBySlug } from "./queries.js";
import { stepsFromTenant, tenantEvent, tenantTopic } from "./events.js";
import { TENANT_STEP_NAMES } from "./step-names.js";
import { TENANT_PROVISIONING } from "./workflow.js";

export const SNAPSHOT_EVENT = "tenant.snapshot";

/**
 * Resolves the tenant (NOT_FOUND / BAD_USER_INPUT surface here, as errors of the subscribe
 * operation) and then returns the stream.
 */
export async function tenantProvisioningEvents(
  em: EntityManager,
  bus: Pick<EventBus, "subscribe">,
  slug: string,
  since?: number,
): Promise<AsyncIterable<StoredEvent>> {
  const tenant = await getTenantBySlug(em, slug);
  const topics = [tenantTopic(tenant.slug)];
  if (since !== undefined) return bus.subscribe({ topics }, since);
  const head = await headSequence(em);
  const snapshot = await snapshotOf(em, tenant);
  const live = bus.subscribe({ topics }, head);
  return (async function* () {
    try {
      yield { ...snapshot, sequence: head, occurredAt: new Date() };
      yield* live;
    } finally {
      await live.return?.();
    }
  })();
}

/** The tenant and its latest pipeline as they are now (the subscription's first event). */
async function snapshotOf(em: EntityManager, tenant: Tenant) {
  await em.refresh(tenant);
  const workflow = await em.findOne(
    Workflow,
    { tenant: tenant.id, kind: TENANT_PROVISIONING },
    { orderBy: { createdAt: "desc", id: "desc" }, refresh: true },
  );
  if (!workflow) return tenantEvent(tenant, SNAPSHOT_EVENT, { steps: stepsFromTenant(tenant, TENANT_STEP_NAMES) });
  const [steps] = await stepsOf(em, [workflow.id]);
  return tenantEvent(tenant, SNAPSHOT_EVENT, {
    workflowId: workflow.id,
    workflowStatus: workflow.status,
    steps: steps!.map((s) => ({ name: s.name, position: s.position, status: s.status, attempt: s.attempt, error: s.error })),
  });
}
