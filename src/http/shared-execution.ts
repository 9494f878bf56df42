/**
 * Subscriptions that share their per-event work, and a direct fan-out for their `next` messages.
 *
 * graphql-js runs a subscription's selection set once per subscriber per event, and graphql-ws
 * then serialises and sends each result through a chain of promises per subscriber. A dashboard
 * fleet watching the same workflow sends the same document with the same variables, so ten
 * thousand of them cost ten thousand identical executions, serialisations and promise chains
 * per event: the process saturates long before the sockets do (bench/subscriptions.ts).
 *
 * Here:
 * - each event is executed once per *share key* — the document, operation name, variables and
 *   what the viewer may see (its tenant, or "admin") — and serialised once per result;
 * - when the source is the event bus's {@link Subscription}, events are handed over
 *   synchronously (its sink) and the `next` message is written to the subscriber's socket at
 *   once — the message graphql-ws would send (`{"id","type":"next","payload"}`, errors formatted
 *   by the same function as its `onNext`), in order; graphql-ws then only hears of the end
 *   (complete) or a failure (error). A result still being computed (async resolvers) holds the
 *   subscriber's later events behind it.
 * The source stream — and so the `subscribe` resolver with its authorization, NOT_FOUND and
 * `since` replay — is still created per subscriber; only the mapping of an event a subscriber
 * has already been given to its message is shared. Field resolvers below a subscription root
 * must therefore depend on nothing of the context but the viewer's visibility (they map the
 * event's payload).
 *
 * graphql-js's own `subscribe` is `createSourceEventStream` + a map through `execute`; this is
 * the same with the map memoised. Results are cached per event object in a WeakMap (the bus
 * hands one object to every subscriber of a topic; the entry goes with the event).
 */
import { createSourceEventStream, execute, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLFormattedError } from "graphql";
import type { WebSocket } from "ws";
import type { Viewer } from "../auth/viewer.js";
import { releaseEntityManager } from "../context.js";
import { Subscription } from "../events/subscription.js";
import type { StoredEvent } from "../events/types.js";

type Result = ExecutionResult | Promise<ExecutionResult>;

interface Share {
  key: string;
  /** The subscriber's socket and operation id, for the direct fan-out. */
  socket: WebSocket;
  id: string;
  /** graphql-ws's `onNext` formatting of errors, for this subscriber. */
  formatErrors: (errors: readonly GraphQLError[]) => GraphQLFormattedError[];
}

/** A subscriber whose socket holds this much unsent data is cut off rather than buffering without bound. */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

const isPromise = (value: unknown): value is Promise<unknown> => typeof (value as { then?: unknown } | null)?.then === "function";

const shares = new WeakMap<object, Share>();
const results = new WeakMap<object, Map<string, Result>>();
const serialised = new WeakMap<ExecutionResult, string>();

/** What a viewer may see, as part of a share key: subscribers that differ here never share. */
function visibility(viewer: Viewer): string {
  return viewer.kind === "tenant" ? `tenant:${viewer.tenantId}` : viewer.kind;
}

/** Marks an operation's context as sharing results with every other operation of the same key. */
export function shareExecution(
  contextValue: object,
  viewer: Viewer,
  request: { document: DocumentNode; operationName?: string | null; variables?: Record<string, unknown> | null },
  target: Omit<Share, "key">,
): void {
  const key = JSON.stringify([visibility(viewer), request.operationName ?? null, request.variables ?? null, documentId(request.document)]);
  shares.set(contextValue, { key, ...target });
}

/**
 * A number per document object, for share keys: subscribers of one document text share one parsed
 * document (ws.ts caches them), so the key need not carry the text (a copy per subscriber).
 */
const documentIds = new WeakMap<DocumentNode, number>();
let lastDocumentId = 0;
function documentId(document: DocumentNode): number {
  let id = documentIds.get(document);
  if (id === undefined) documentIds.set(document, (id = ++lastDocumentId));
  return id;
}

function executeShared(args: ExecutionArgs, key: string | undefined, event: unknown): Result {
  const run = () => execute({ ...args, rootValue: event });
  if (key === undefined || event === null || typeof event !== "object") return run();
  let byKey = results.get(event);
  if (!byKey) results.set(event, (byKey = new Map()));
  let result = byKey.get(key);
  if (result === undefined) {
    result = run();
    const cache = byKey;
    if (isPromise(result)) {
      // Subscribers that come after it resolves get the value itself, with no promise in between.
      result = result.then(
        (value) => (cache.set(key, value), value),
        (err: unknown) => {
          const value: ExecutionResult = { errors: [err instanceof GraphQLError ? err : new GraphQLError(err instanceof Error ? err.message : String(err))] };
          cache.set(key, value);
          return value;
        },
      );
    }
    cache.set(key, result);
  }
  return result;
}

function serialise(result: ExecutionResult): string {
  let json = serialised.get(result);
  if (json === undefined) serialised.set(result, (json = JSON.stringify(result)));
  return json;
}

/**
 * The subscriber's side of the direct fan-out: events in, `next` messages out, in order. An event
 * whose shared result is still being computed (async resolvers) holds the ones behind it.
 */
function directDelivery(args: ExecutionArgs, share: Share, source: Subscription): (event: StoredEvent) => void {
  const { socket } = share;
  const prefix = `{"id":${JSON.stringify(share.id)},"type":"next","payload":`;
  const waiting: StoredEvent[] = [];
  const send = (result: ExecutionResult) => {
    if (socket.readyState !== socket.OPEN) return; // closing: graphql-ws ends the subscription
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      source.fail(new Error("Subscriber fell too far behind; resubscribe with `since`"));
      return;
    }
    // Errors are formatted per subscriber (they carry its request id), as graphql-ws's onNext would.
    const payload = result.errors?.length ? JSON.stringify({ ...result, errors: share.formatErrors(result.errors) }) : serialise(result);
    socket.send(prefix + payload + "}");
  };
  const flush = (): void => {
    while (waiting.length > 0) {
      const result = executeShared(args, share.key, waiting[0]);
      if (isPromise(result)) {
        void result.then(flush);
        return;
      }
      waiting.shift();
      send(result);
    }
  };
  return (event) => {
    waiting.push(event);
    if (waiting.length === 1) flush();
  };
}

/** A drop-in for graphql-js `subscribe` (graphql-ws's `subscribe` option). */
export async function subscribeShared(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in Object(source))) return source as ExecutionResult;
  // The subscription is authorised and started: its long-lived context need not hold the fork.
  releaseEntityManager(args.contextValue);
  const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const share = args.contextValue ? shares.get(args.contextValue as object) : undefined;
  // The bus's subscriptions deliver straight to the socket; graphql-ws then only hears of the
  // end (complete) or a failure (error message). Any other source goes the usual way.
  if (share && iterator instanceof Subscription) iterator.attachSink(directDelivery(args, share, iterator));

  const close = async (): Promise<IteratorResult<ExecutionResult, void>> => {
    if (iterator instanceof Subscription) iterator.detachSink();
    await iterator.return?.();
    return { value: undefined, done: true };
  };
  const mapped = {
    async next(): Promise<IteratorResult<ExecutionResult, void>> {
      const item = await iterator.next();
      if (item.done) return { value: undefined, done: true };
      return { value: await executeShared(args, share?.key, item.value), done: false };
    },
    return: close,
    async throw(err: unknown): Promise<never> {
      await close();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return mapped;
    },
  };
  return mapped as AsyncGenerator<ExecutionResult, void, void>;
}
