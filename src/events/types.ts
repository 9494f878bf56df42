/**
 * Events: the append-only history of every state change, and the feed of every subscription.
 *
 * Glossary
 * - event: one row of the `event` table — who (tenant), what (topic, type), the changed state
 *   (payload, a JSON snapshot without secrets) and when (occurredAt), numbered by `sequence`.
 * - sequence: global, strictly increasing in commit order (appends take a transaction-scoped
 *   advisory lock), so "everything after N" is a complete, gap-safe question.
 * - topic: what the event is about: `workflow:<id>`, `connector:<id>`, `tenant:<slug>`.
 * - wake-up: a payload-free signal on a named channel ("a step became due") for background
 *   roles; delivered at commit, never carries data.
 */
export const EVENTS_CHANNEL = "gantry_events";

export interface NewEvent {
  /** Owning tenant; null for platform-level events (visible to admins only). */
  tenantId: string | null;
  topic: string;
  type: string;
  payload: Record<string, unknown>;
}

export interface StoredEvent extends NewEvent {
  sequence: number;
  occurredAt: Date;
}

export interface EventFilter {
  /** undefined: every tenant (admin); a tenant id: only that tenant's events. */
  tenantId?: string | null | undefined;
  topics?: string[];
  topicPrefix?: string;
  types?: string[];
}

export function matches(filter: EventFilter, event: StoredEvent): boolean {
  if (filter.tenantId !== undefined && event.tenantId !== filter.tenantId) return false;
  if (filter.topics && !filter.topics.includes(event.topic)) return false;
  if (filter.topicPrefix && !event.topic.startsWith(filter.topicPrefix)) return false;
  if (filter.types && !filter.types.includes(event.type)) return false;
  return true;
}
