/**
 * The per-process event bus. One reader per process follows the event table by sequence —
 * woken by NOTIFY (any process's commits), by the in-process commit hook, and by a slow safety
 * poll — and hands each new event to the matching subscribers. Subscribers never query on the
 * hot path: a thousand dashboards cost one read per batch of events, not one each.
 *
 * Wake-ups for background roles ride on the same LISTEN connection.
 */
import pg from "pg";
import type { EventSubscriber, TransactionEventArgs } from "@mikro-orm/core";
import type { Logger } from "pino";
import type { Orm } from "../db/orm.js";
import { EVENT_COLUMNS, headSequence, listEvents, toStoredEvent } from "./history.js";
import { pendingWakes } from "./append.js";
import { EVENTS_CHANNEL, matches, type EventFilter, type StoredEvent } from "./types.js";
import { Subscription } from "./subscription.js";

const READ_BATCH = 500;
/**
 * With no subscribers, the head is followed at most this often (one cheap query) instead of on
 * every commit: a read per commit on a worker's pool competed with the worker's next round and
 * cost a lone workflow ~2 ms per step hand-off, for events nobody was waiting for.
 */
const IDLE_READ_MS = 100;

export interface EventBusOptions {
  /** PostgreSQL URL for LISTEN; omit on the embedded database (one process, in-process wake-ups). */
  listenUrl?: string;
  /** Safety poll interval: catches anything a lost notification missed. */
  pollMs?: number;
}

export class EventBus {
  private head = 0;
  private reading: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly byTopic = new Map<string, Set<Subscription>>();
  private readonly broad = new Set<Subscription>();
  /** Live subscriptions, counted as they come and go (read on every wake-up). */
  private readonly live = new Set<Subscription>();
  private readonly wakeListeners = new Map<string, Set<() => void>>();
  private listener: pg.Client | undefined;
  private poll: NodeJS.Timeout | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private idleRead: NodeJS.Timeout | undefined;

  constructor(
    private readonly orm: Orm,
    private readonly log: Logger,
    private readonly options: EventBusOptions = {},
  ) {}

  async start(): Promise<void> {
    this.head = await headSequence(this.orm.em.fork({ useContext: false }) as never);
    this.orm.em.getEventManager().registerSubscriber(new CommitWakeSubscriber(this));
    if (this.options.listenUrl) await this.connectListener();
    this.poll = setInterval(() => this.kick(), this.options.pollMs ?? 1000);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.reconnect);
    clearTimeout(this.idleRead);
    for (const sub of [...this.live]) sub.end();
    await this.reading;
    await this.listener?.end().catch(() => undefined);
  }

  /**
   * Reads new events now (coalesced with a read in progress); with no subscribers, soon. A
   * subscriber without `since` starts at the last head read, so it may also get events committed
   * shortly before it subscribed (up to `IDLE_READ_MS` earlier when it is the first), never fewer.
   */
  kick(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    if (this.subscriberCount === 0) {
      this.idleRead ??= setTimeout(() => this.read(), IDLE_READ_MS).unref();
      return;
    }
    this.read();
  }

  private read(): void {
    clearTimeout(this.idleRead);
    this.idleRead = undefined;
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.readLoop().finally(() => {
      this.reading = undefined;
      if (this.again) this.kick();
    });
  }

  /**
   * Events matching `filter`, in sequence order, each once: first those after `since` from the
   * table (when given), then live ones. End it with `return()` (for await … break does).
   */
  subscribe(filter: EventFilter, since?: number): AsyncIterableIterator<StoredEvent> {
    const sub = new Subscription(filter, since === undefined ? this.head : since, (s) => this.remove(s));
    this.live.add(sub);
    if (filter.topics) {
      for (const topic of filter.topics) {
        const set = this.byTopic.get(topic) ?? new Set();
        set.add(sub);
        this.byTopic.set(topic, set);
      }
    } else {
      this.broad.add(sub);
    }
    if (since !== undefined) {
      sub.buffering = true;
      void this.replay(sub, filter, since);
    }
    return sub;
  }

  /** Calls `listener` whenever `wake(em, channel)` commits anywhere. Returns the unsubscribe. */
  onWake(channel: string, listener: () => void): () => void {
    const set = this.wakeListeners.get(channel) ?? new Set();
    set.add(listener);
    this.wakeListeners.set(channel, set);
    if (this.listener && set.size === 1) this.listen(this.listener, channel);
    return () => set.delete(listener);
  }

  /** Delivers a wake-up to this process's listeners of `channel`. */
  wakeLocal(channel: string): void {
    if (channel === EVENTS_CHANNEL) return this.kick();
    for (const listener of this.wakeListeners.get(channel) ?? []) listener();
  }

  /**
   * Whether live events reach this process: its LISTEN connection is up (always, without one:
   * the embedded database's events are woken in-process). Down from the moment the database drops
   * the connection until it is back and listening again.
   */
  get listening(): boolean {
    return !this.options.listenUrl || (this.listener !== undefined && !this.stopped);
  }

  /** Number of live subscriptions (for metrics and tests). */
  get subscriberCount(): number {
    return this.live.size;
  }

  private remove(sub: Subscription): void {
    this.live.delete(sub);
    this.broad.delete(sub);
    // Only the subscription's own topics: scanning every topic made closing n subscriptions O(n²).
    for (const topic of sub.filter.topics ?? []) {
      const set = this.byTopic.get(topic);
      if (!set) continue;
      set.delete(sub);
      if (set.size === 0) this.byTopic.delete(topic);
    }
  }

  private async replay(sub: Subscription, filter: EventFilter, since: number): Promise<void> {
    try {
      let after = since;
      for (;;) {
        const page = await listEvents(this.orm.em.fork({ useContext: false }) as never, { ...filter, after, limit: READ_BATCH });
        for (const event of page) sub.push(event);
        if (page.length < READ_BATCH) break;
        after = page.at(-1)!.sequence;
      }
      sub.flushBuffer();
    } catch (err) {
      this.log.error({ err }, "event replay failed");
      sub.fail(new Error("Could not replay events; reconnect to try again"));
    }
  }

  private async readLoop(): Promise<void> {
    do {
      this.again = false;
      try {
        if (this.subscriberCount === 0) {
          // Nobody to hand events to: follow the head only (no payloads to fetch and parse).
          const head = await headSequence(this.orm.em.fork({ useContext: false }) as never);
          // A subscriber that arrived meanwhile starts at the old head: read its events instead.
          if (this.subscriberCount === 0) this.head = Math.max(this.head, head);
          else this.again = true;
          continue;
        }
        const events = await this.readAfter(this.head);
        for (const event of events) this.dispatch(event);
        if (events.length > 0) this.head = events.at(-1)!.sequence;
        if (events.length === READ_BATCH) this.again = true;
      } catch (err) {
        if (!this.stopped) this.log.warn({ err }, "event read failed; will retry on the next wake-up");
      }
    } while (this.again && !this.stopped && this.subscriberCount > 0);
  }

  private dispatch(event: StoredEvent): void {
    for (const sub of this.byTopic.get(event.topic) ?? []) if (matches(sub.filter, event)) sub.deliver(event);
    for (const sub of this.broad) if (matches(sub.filter, event)) sub.deliver(event);
  }

  /**
   * New events after `after`. On PostgreSQL the read goes over the LISTEN connection, which is
   * idle between notifications: a named (prepared) statement, no pool to wait on behind the
   * api's requests and no query builder, once per batch of commits. Through the ORM otherwise
   * (the embedded database, or while the listener reconnects).
   */
  private async readAfter(after: number): Promise<StoredEvent[]> {
    const client = this.listener;
    if (!client) return listEvents(this.orm.em.fork({ useContext: false }) as never, { after, limit: READ_BATCH });
    const read = this.listenChain.then(() =>
      client.query({
        name: "gantry_bus_read",
        text: `select ${EVENT_COLUMNS} from event where sequence > $1 order by sequence limit $2`,
        values: [after, READ_BATCH],
      }),
    );
    this.listenChain = read.catch(() => undefined);
    return (await read).rows.map(toStoredEvent);
  }

  /** LISTENs one after another: pg warns about (and will drop) overlapping queries on a client. */
  private listenChain: Promise<unknown> = Promise.resolve();

  private listen(client: pg.Client, channel: string): Promise<unknown> {
    this.listenChain = this.listenChain.then(() => client.query(`listen ${channel}`)).catch(() => undefined);
    return this.listenChain;
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.listenUrl });
    client.on("notification", (msg) => this.wakeLocal(msg.channel));
    client.on("error", (err) => {
      if (this.stopped) return;
      this.log.warn({ err }, "event listener connection lost; reconnecting");
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query(`listen ${EVENTS_CHANNEL}`);
      for (const channel of this.wakeListeners.keys()) await this.listen(client, channel);
      this.listener = client;
      this.kick(); // anything committed while we were not listening
      for (const channel of this.wakeListeners.keys()) this.wakeLocal(channel);
    } catch (err) {
      await client.end().catch(() => undefined);
      if (this.stopped) return;
      this.log.warn({ err }, "event listener could not connect; retrying");
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnect) return;
    this.listener = undefined;
    this.reconnect = setTimeout(() => {
      this.reconnect = undefined;
      void this.connectListener();
    }, 500);
    this.reconnect.unref();
  }
}

/** Wakes this process's listeners after the ORM commits a transaction that asked for it. */
class CommitWakeSubscriber implements EventSubscriber {
  constructor(private readonly bus: EventBus) {}

  afterTransactionCommit(args: TransactionEventArgs): void {
    const trx = args.transaction as object | undefined;
    const channels = trx && pendingWakes.get(trx);
    // Not deleted here: several buses may share one ORM; the WeakMap lets the entry go with the transaction.
    if (!channels) return;
    for (const channel of channels) this.bus.wakeLocal(channel);
  }
}
