/**
 * The limit of the subscriptions scenario: a bare `ws` server (forked, IPC) speaking just enough
 * of the graphql-ws protocol for the same clients (connection_init → ack, subscribe, complete,
 * ping), which produces the same step events at the same rate and sends each subscriber the same
 * `next` message Gantry would — serialising each event once, no database, no GraphQL execution.
 * "Committed at" is when the tick produced the event.
 */
import { WebSocketServer, type WebSocket } from "ws";
import { monotonicMs, nextData, stepEvent, TICK_MS, type RunCommand, type RunResult } from "./subscriptions-payload.js";

let workflowIds: string[] = [];
let tenantId = "";
const byWorkflow = new Map<string, Map<WebSocket, string>>();
let subscriptions = 0;
let counters: number[] = [];
let next = 0;
let sequence = 0;

const send = (message: unknown) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", path: "/graphql" });
wss.on("connection", (socket) => {
  socket.on("message", (raw) => {
    const message = JSON.parse(String(raw)) as { type: string; id?: string; payload?: { variables?: { workflowId?: string } } };
    if (message.type === "connection_init") socket.send(`{"type":"connection_ack"}`);
    else if (message.type === "ping") socket.send(`{"type":"pong"}`);
    else if (message.type === "subscribe") {
      const workflowId = message.payload?.variables?.workflowId ?? "";
      const subs = byWorkflow.get(workflowId) ?? new Map<WebSocket, string>();
      subs.set(socket, message.id!);
      byWorkflow.set(workflowId, subs);
      subscriptions++;
    } else if (message.type === "complete") {
      for (const subs of byWorkflow.values()) if (subs.delete(socket)) subscriptions--;
    }
  });
  socket.on("close", () => {
    for (const subs of byWorkflow.values()) if (subs.delete(socket)) subscriptions--;
  });
});

function publish(w: number): void {
  const at = new Date();
  const workflowId = workflowIds[w]!;
  const data = JSON.stringify(nextData(++sequence, at, stepEvent(workflowId, tenantId, counters[w]!++, at)));
  for (const [socket, id] of byWorkflow.get(workflowId) ?? []) socket.send(`{"id":${JSON.stringify(id)},"type":"next","payload":{"data":${data}}}`);
}

async function runAtRate({ rate, seconds }: RunCommand): Promise<RunResult> {
  const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
  const ticks = Math.round((seconds * 1000) / TICK_MS);
  const result: RunResult = { type: "ran", sequences: [], committedAt: [], workflowIndex: [], seconds: 0 };
  const started = monotonicMs();
  for (let t = 0; t < ticks; t++) {
    const wait = started + t * TICK_MS - monotonicMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const at = monotonicMs();
    for (let i = 0; i < perTick; i++) {
      const w = next++ % workflowIds.length;
      publish(w);
      result.sequences.push(sequence);
      result.committedAt.push(at);
      result.workflowIndex.push(w);
    }
  }
  result.seconds = (monotonicMs() - started) / 1000;
  return result;
}

process.on("message", (message: { type: string; workflowIds?: string[]; tenantId?: string } & Partial<Omit<RunCommand, "type">>) => {
  void (async () => {
    if (message.type === "setup") {
      workflowIds = message.workflowIds!;
      tenantId = message.tenantId!;
      counters = workflowIds.map(() => 0);
      await send({ type: "setup" });
    } else if (message.type === "warm") {
      for (let w = 0; w < workflowIds.length; w++) publish(w);
      await send({ type: "warmed" });
    } else if (message.type === "run") {
      await send(await runAtRate(message as RunCommand));
    } else if (message.type === "stop") {
      for (const client of wss.clients) client.terminate();
      wss.close(() => process.exit(0));
    }
  })();
});
wss.on("listening", () => {
  const address = wss.address();
  void send({ type: "ready", url: `ws://127.0.0.1:${address && typeof address === "object" ? address.port : 0}/graphql`, subscriptions });
});
