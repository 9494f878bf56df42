/** Reading the event history (workflow timelines, subscription replay). */
import type { EntityManager } from "@mikro-orm/postgresql";
import type { EventFilter, StoredEvent } from "./types.js";

interface EventRow {
  sequence: string;
  occurred_at: Date;
  tenant_id: string | null;
  topic: string;
  type: string;
  payload: Record<string, unknown>;
}

/** The columns every event read selects, for {@link toStoredEvent}. */
export const EVENT_COLUMNS = "sequence, occurred_at, tenant_id, topic, type, payload";

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    sequence: Number(row.sequence),
    occurredAt: new Date(row.occurred_at),
    tenantId: row.tenant_id,
    topic: row.topic,
    type: row.type,
    payload: row.payload,
  };
}

/** Events after `after` matching the filter, oldest first. */
export async function listEvents(
  em: EntityManager,
  filter: EventFilter & { after?: number; limit: number },
): Promise<StoredEvent[]> {
  const where: string[] = ["sequence > ?"];
  const params: unknown[] = [filter.after ?? 0];
  if (filter.tenantId !== undefined) {
    where.push(filter.tenantId === null ? "tenant_id is null" : "tenant_id = ?");
    if (filter.tenantId !== null) params.push(filter.tenantId);
  }
  // Arrays bind as lists (`in (?)` expands to `in ($1, $2, …)`).
  if (filter.topics) {
    if (filter.topics.length === 0) return [];
    where.push("topic in (?)");
    params.push(filter.topics);
  }
  if (filter.topicPrefix) {
    where.push("starts_with(topic, ?)");
    params.push(filter.topicPrefix);
  }
  if (filter.types) {
    if (filter.types.length === 0) return [];
    where.push("type in (?)");
    params.push(filter.types);
  }
  params.push(filter.limit);
  const rows = await em
    .getConnection()
    .execute<EventRow[]>(
      `select ${EVENT_COLUMNS} from event where ${where.join(" and ")} order by sequence limit ?`,
      params,
    );
  return rows.map(toStoredEvent);
}

export async function headSequence(em: EntityManager): Promise<number> {
  const [row] = await em.getConnection().execute<{ head: string | null }[]>("select max(sequence) as head from event");
  return Number(row?.head ?? 0);
}
