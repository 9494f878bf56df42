/**
 * The stream behind `tenantProvisioningChanged(slug, since)`: the tenant's events (`tenant:<slug>`)
 * from the event bus. Without `since` it starts with a `tenant.snapshot` of the current state,
 * taken after the head sequence was read, so nothing between the snapshot and the live events is
 * lost (an event may repeat what the snapshot showed; each carries the whole state).
 */
import type { EntityManager } from "../db/orm.js";
import type { EventBus, StoredEvent } from "../events/index.js";
import { headSequence } from "../events/index.js";
import { getTenantBySlug } from "./queries.js";
import { stepsFromTenant, tenantEvent, tenantTopic } from "./events.js";
import { TENANT_STEP_NAMES } from "./step-names.js";

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
  await em.refresh(tenant);
  const snapshot = tenantEvent(tenant, SNAPSHOT_EVENT, { steps: stepsFromTenant(tenant, TENANT_STEP_NAMES) });
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
