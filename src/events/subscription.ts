/**
 * One subscriber's ordered, duplicate-free stream of events, as an async iterator. Live events
 * that arrive while a `since` replay is still reading are held back and merged after it, so a
 * reconnecting client sees every missed event once and in order.
 */
import type { EventFilter, StoredEvent } from "./types.js";

/** A subscriber this far behind is cut off rather than buffering without bound. */
export const MAX_QUEUE = 10_000;

export class Subscription implements AsyncIterableIterator<StoredEvent> {
  buffering = false;
  /**
   * When set (`attachSink`), events in order are handed to it synchronously instead of being
   * queued for `next()`, which then only reports the end or a failure (the graphql-ws fan-out,
   * src/http/shared-execution.ts).
   */
  private sink: ((event: StoredEvent) => void) | undefined;
  private readonly queue: StoredEvent[] = [];
  private held: StoredEvent[] = [];
  private waiter: ((result: IteratorResult<StoredEvent>) => void) | undefined;
  private failWaiter: ((err: Error) => void) | undefined;
  private error: Error | undefined;
  private done = false;

  constructor(
    readonly filter: EventFilter,
    /** Sequence of the last event handed out (or the `since` asked for). */
    private lastDelivered: number,
    private readonly onClose: (sub: Subscription) => void,
  ) {}

  /** From now on, events go to `sink` in order (those already queued first). */
  attachSink(sink: (event: StoredEvent) => void): void {
    this.sink = sink;
    for (const event of this.queue.splice(0)) sink(event);
  }

  detachSink(): void {
    this.sink = undefined;
  }

  /** A live event from the bus. */
  deliver(event: StoredEvent): void {
    if (this.buffering) this.held.push(event);
    else this.push(event);
  }

  /** An event in sequence order (replay, or live once replay is over). */
  push(event: StoredEvent): void {
    if (this.done || event.sequence <= this.lastDelivered) return;
    this.lastDelivered = event.sequence;
    if (this.sink) return this.sink(event);
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = this.failWaiter = undefined;
      resolve({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.queue.length > MAX_QUEUE) this.fail(new Error("Subscriber fell too far behind; resubscribe with `since`"));
  }

  flushBuffer(): void {
    this.buffering = false;
    const held = this.held;
    this.held = [];
    for (const event of held) this.push(event);
  }

  fail(err: Error): void {
    if (this.done) return;
    this.queue.length = 0;
    const failWaiter = this.failWaiter;
    this.waiter = this.failWaiter = undefined;
    this.close();
    if (failWaiter) failWaiter(err);
    else this.error = err;
  }

  end(): void {
    if (this.done) return;
    this.close();
    if (this.waiter) this.waiter({ value: undefined, done: true });
    this.waiter = this.failWaiter = undefined;
  }

  next(): Promise<IteratorResult<StoredEvent>> {
    const value = this.queue.shift();
    if (value) return Promise.resolve({ value, done: false });
    if (this.error) {
      const err = this.error;
      this.error = undefined;
      return Promise.reject(err);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  return(): Promise<IteratorResult<StoredEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StoredEvent> {
    return this;
  }

  private close(): void {
    this.done = true;
    this.held = [];
    this.onClose(this);
  }
}
