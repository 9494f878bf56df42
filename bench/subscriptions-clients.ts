/**
 * A worker thread of subscribers for the subscriptions scenario: one graphql-ws client (the
 * stock `graphql-ws` client over `ws`, one socket each) per subscriber, each subscribed to
 * `workflowStepChanged` of its workflow, recording every event's sequence and the monotonic time
 * it arrived. Posts progress every 100 ms; on "report" posts what each subscriber received; on
 * "close" disposes every client.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { monotonicMs, SUBSCRIPTION } from "./subscriptions-payload.js";

export interface ClientsData {
  url: string;
  apiKey: string;
  /** Per subscriber: the index and id of the workflow it watches. */
  workflows: { index: number; id: string }[];
}

export interface SubscriberReport {
  workflowIndex: number;
  sequences: number[];
  receivedAt: number[];
}

export interface Progress {
  type: "progress";
  connected: number;
  live: number;
  received: number;
  /** Received events with a sequence above the threshold set by "count-above" (the run's). */
  receivedAbove: number;
  errors: number;
  firstError?: string;
}

const { url, apiKey, workflows } = workerData as ClientsData;
const CONNECT_AT_ONCE = 100;

const subscribers = workflows.map((w) => ({ workflowIndex: w.index, workflowId: w.id, sequences: [] as number[], receivedAt: [] as number[] }));
const clients: Client[] = [];
let connected = 0;
let received = 0;
let threshold = Infinity;
let receivedAbove = 0;
let errors = 0;
let firstError: string | undefined;

function fail(err: unknown): void {
  errors++;
  firstError ??= err instanceof Error ? err.message : JSON.stringify(err);
}

function connect(subscriber: (typeof subscribers)[number]): Promise<void> {
  return new Promise((resolve) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { "x-api-key": apiKey },
      lazy: true,
      retryAttempts: 0,
      on: {
        connected: () => {
          connected++;
          resolve();
        },
        closed: (event) => {
          if ((event as { code?: number }).code !== 1000) resolve();
        },
      },
    });
    clients.push(client);
    client.subscribe<{ workflowStepChanged: { sequence: number } }>(
      { query: SUBSCRIPTION, variables: { workflowId: subscriber.workflowId } },
      {
        next: (result) => {
          const at = monotonicMs();
          if (result.errors?.length || !result.data) return fail(result.errors ?? "no data");
          const sequence = result.data.workflowStepChanged.sequence;
          subscriber.sequences.push(sequence);
          subscriber.receivedAt.push(at);
          received++;
          if (sequence > threshold) receivedAbove++;
        },
        error: (err) => {
          fail(err);
          resolve();
        },
        complete: () => undefined,
      },
    );
  });
}

const progress = (): Progress => ({
  type: "progress",
  connected,
  live: subscribers.filter((s) => s.sequences.length > 0).length,
  received,
  receivedAbove,
  errors,
  firstError,
});

const timer = setInterval(() => parentPort!.postMessage(progress()), 100);

parentPort!.on("message", async (message: { type: string; sequence?: number }) => {
  if (message.type === "count-above") {
    // Warm-up events still in flight must not count towards the run's deliveries.
    threshold = message.sequence!;
    receivedAbove = subscribers.reduce((n, s) => n + s.sequences.filter((q) => q > threshold).length, 0);
  } else if (message.type === "report") {
    parentPort!.postMessage({
      type: "report",
      subscribers: subscribers.map((s): SubscriberReport => ({ workflowIndex: s.workflowIndex, sequences: s.sequences, receivedAt: s.receivedAt })),
    });
  } else if (message.type === "close") {
    clearInterval(timer);
    await Promise.all(clients.map((c) => c.dispose()));
    parentPort!.postMessage({ type: "closed" });
  }
});

// Connect in waves so the server's accept backlog is not the thing being measured.
for (let i = 0; i < subscribers.length; i += CONNECT_AT_ONCE) {
  await Promise.all(subscribers.slice(i, i + CONNECT_AT_ONCE).map(connect));
}
parentPort!.postMessage(progress());
