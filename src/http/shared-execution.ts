/**
 * Subscriptions that share their per-event execution.
 *
 * graphql-js runs a subscription's selection set once per subscriber per event. A dashboard
 * fleet watching the same workflow sends the same document with the same variables, so a
 * thousand of them cost a thousand identical executions of every event. Here each event is
 * executed once per *share key* — the document, operation name, variables and what the viewer
 * may see (its tenant, or "admin") — and every subscriber with that key gets the same result.
 * The source stream (and so the `subscribe` resolver with its authorization, NOT_FOUND and
 * `since` replay) is still created per subscriber: only the mapping of an event that a
 * subscriber has already been given to its result is shared.
 *
 * Results are cached per event object in a WeakMap: the event bus hands the same object to every
 * subscriber of a topic, and the entry goes when the event is no longer referenced.
 *
 * graphql-js's own `subscribe` is `createSourceEventStream` + a map through `execute`; this is
 * the same with the map memoised. Field resolvers below a subscription root must therefore not
 * depend on anything of the context but the viewer's visibility (they map the event's payload).
 */
import { randomUUID } from "node:crypto";
import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from "graphql";
import type { Viewer } from "../auth/viewer.js";

type Result = ExecutionResult | Promise<ExecutionResult>;

const shareKeys = new WeakMap<object, string>();
const results = new WeakMap<object, Map<string, Result>>();

/** What a viewer may see, as part of a share key: subscribers that differ here never share. */
function visibility(viewer: Viewer): string {
  return viewer.kind === "tenant" ? `tenant:${viewer.tenantId}` : viewer.kind;
}

/** Marks an operation's context as sharing results with every other operation of the same key. */
export function shareExecution(
  contextValue: object,
  viewer: Viewer,
  request: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
): void {
  shareKeys.set(contextValue, JSON.stringify([visibility(viewer), request.operationName ?? null, request.variables ?? null, request.query]));
}

function executeShared(args: ExecutionArgs, key: string | undefined, event: unknown): Result {
  const run = () => execute({ ...args, rootValue: event });
  if (key === undefined || event === null || typeof event !== "object") return run();
  let byKey = results.get(event);
  if (!byKey) results.set(event, (byKey = new Map()));
  let result = byKey.get(key);
  if (result === undefined) byKey.set(key, (result = run()));
  return result;
}

/** A drop-in for graphql-js `subscribe` (graphql-ws's `subscribe` option). */
export async function subscribeShared(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in Object(source))) return source as ExecutionResult;
  const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const key = args.contextValue ? shareKeys.get(args.contextValue as object) : undefined;
  const close = async (): Promise<IteratorResult<ExecutionResult, void>> => {
    await iterator.return?.();
    return { value: undefined, done: true };
  };
  const mapped = {
    async next() {
      const item = await iterator.next();
      if (item.done) return { value: undefined, done: true };
      return { value: await executeShared(args, key, item.value), done: false };
    },
    return: close,
    async throw(err: unknown) {
      await close();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return mapped;
    },
  } as AsyncGenerator<ExecutionResult, void, void>;
  return mapped;
}

/*
 * Shared serialisation. A `next` message differs between subscribers only in its `id`, yet
 * graphql-ws serialises the whole result for each one. A shared result is serialised once
 * (cached per result object) and spliced into each message: `onNext` hands graphql-ws a stand-in
 * whose `toJSON` is a per-process random marker, and the socket's `send` (see
 * `spliceSharedPayloads`) swaps the quoted marker for the cached JSON. graphql-ws calls `send`
 * synchronously right after serialising the message, so the last stand-in serialised is the one
 * in the message being sent.
 */
const MARKER = `gantry-shared-payload-${randomUUID()}`;
const QUOTED_MARKER = JSON.stringify(MARKER);
const serialised = new WeakMap<ExecutionResult, string>();
let pendingJson: string | undefined;

/** A stand-in for `result` in a graphql-ws `next` message (return it from `onNext`). */
export function sharedPayload(result: ExecutionResult): { toJSON(): string } {
  return {
    toJSON() {
      let json = serialised.get(result);
      if (json === undefined) serialised.set(result, (json = JSON.stringify(result)));
      pendingJson = json;
      return MARKER;
    },
  };
}

/** Makes `socket.send` splice shared payloads into the messages graphql-ws serialised. */
export function spliceSharedPayloads(socket: { send: (data: never, ...rest: never[]) => void }): void {
  const send = socket.send.bind(socket) as (data: unknown, ...rest: unknown[]) => void;
  socket.send = ((data: unknown, ...rest: unknown[]) => {
    if (pendingJson !== undefined && typeof data === "string") {
      const at = data.lastIndexOf(QUOTED_MARKER);
      if (at >= 0) {
        data = data.slice(0, at) + pendingJson + data.slice(at + QUOTED_MARKER.length);
        pendingJson = undefined;
      }
    }
    send(data, ...rest);
  }) as never;
}
