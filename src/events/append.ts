/**
 * Writing events and wake-ups inside the caller's transaction. PostgreSQL delivers NOTIFY only
 * when the transaction commits, so listeners never hear of uncommitted state; in-process
 * listeners are woken by `CommitWakeSubscriber` after the ORM commits (the embedded database
 * has no cross-process LISTEN).
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { exec, preparable } from "../db/sql.js";
import { EVENTS_CHANNEL, type NewEvent, type StoredEvent } from "./types.js";

/**
 * Serialises event appends so that sequence order is commit order (see types.ts). Statements that
 * insert events themselves (the engine's one-statement round) take it the same way as APPEND.
 */
export const EVENT_LOCK_KEY = 7_244_001;
const CHANNEL = /^[a-z][a-z0-9_]{0,62}$/;

/** Channels to wake in-process once the transaction (keyed by its context) commits. */
export const pendingWakes = new WeakMap<object, Set<string>>();

function transactionOf(em: EntityManager, what: string): object {
  const trx = em.getTransactionContext();
  if (!trx) throw new Error(`${what} must run inside a transaction (em.transactional)`);
  return trx as object;
}

function remember(trx: object, channel: string): void {
  const set = pendingWakes.get(trx) ?? new Set<string>();
  set.add(channel);
  pendingWakes.set(trx, set);
}

// Prepared once per connection in hand-driven transactions (src/engine/sql/round.ts).
const APPEND = preparable(`insert into event (tenant_id, topic, type, payload)
     select (e.value->>'tenant_id')::uuid, e.value->>'topic', e.value->>'type', e.value->'payload'
       from jsonb_array_elements(?::jsonb) with ordinality as e(value, n)
      where (select true from pg_advisory_xact_lock(?) as l)
      order by e.n
     returning sequence, occurred_at, pg_notify(?, '') is null as notified`);
const NOTIFY = preparable(`select pg_notify(?, '')`);

function appendParams(events: NewEvent[]): unknown[] {
  return [
    JSON.stringify(events.map((e) => ({ tenant_id: e.tenantId, topic: e.topic, type: e.type, payload: e.payload }))),
    EVENT_LOCK_KEY,
    EVENTS_CHANNEL,
  ];
}

/**
 * A transaction that can send statements together with its COMMIT (the engine's worker rounds,
 * src/engine/sql/round.ts): there the append travels with COMMIT, so the lock is never held
 * across a network round trip.
 */
interface CommitBatching {
  atCommit(statement: [string, unknown[]]): void;
}
function commitBatching(trx: object): CommitBatching | undefined {
  return typeof (trx as Partial<CommitBatching>).atCommit === "function" ? (trx as CommitBatching) : undefined;
}

/**
 * Appends events in the caller's transaction and returns them with their sequence. Call it as
 * the last write before commit: from here to the commit, other event writers wait.
 */
export async function appendEvents(em: EntityManager, events: NewEvent[]): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  const trx = transactionOf(em, "appendEvents");
  // One round trip: the lock is a one-time filter (an InitPlan, taken before the first row gets
  // its sequence), and NOTIFY rides in RETURNING (PostgreSQL folds identical notifications of
  // one transaction into one, delivered at commit).
  const rows = await exec<{ sequence: string; occurred_at: Date }>(em, APPEND, appendParams(events));
  remember(trx, EVENTS_CHANNEL);
  return rows.map((row, i) => ({ ...events[i]!, sequence: Number(row.sequence), occurredAt: new Date(row.occurred_at) }));
}

/**
 * Appends events as late as possible: with the COMMIT itself when the transaction can batch
 * statements with it, otherwise now (as {@link appendEvents}). Their sequences are not returned.
 */
export async function appendEventsAtCommit(em: EntityManager, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const trx = transactionOf(em, "appendEvents");
  const batching = commitBatching(trx);
  if (!batching) return void (await appendEvents(em, events));
  batching.atCommit([APPEND, appendParams(events)]);
  remember(trx, EVENTS_CHANNEL);
}

/**
 * For SQL that appended events itself (and notified `EVENTS_CHANNEL` as APPEND does, through
 * `pg_notify` in its RETURNING): wake this process's listeners too once the transaction commits.
 */
export function eventsAppendedBySql(em: EntityManager): void {
  remember(transactionOf(em, "appendEvents"), EVENTS_CHANNEL);
}

/** Wakes every process listening on `channel` once the caller's transaction commits. */
export async function wake(em: EntityManager, channel: string): Promise<void> {
  if (!CHANNEL.test(channel)) throw new Error(`invalid wake-up channel "${channel}"`);
  const trx = transactionOf(em, "wake");
  const batching = commitBatching(trx);
  if (batching) batching.atCommit([NOTIFY, [channel]]);
  else await exec(em, NOTIFY, [channel]);
  remember(trx, channel);
}
