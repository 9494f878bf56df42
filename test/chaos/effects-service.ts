/**
 * The external service the chaos workflows provision against, on a free loopback port. It
 * counts every start call per `Idempotency-Key` (one key = one step attempt), so a step attempt
 * executed twice shows up as a key seen twice. Three step kinds:
 * - `POST /act` (action): answers after a short delay;
 * - `POST /cb` (callback): answers, then posts the callback back to Gantry a moment later,
 *   retrying network errors and 5xx a bounded number of times (a real service's sender);
 * - `POST /poll` + `GET /status/:op` (poll): "pending" twice, then "done".
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface EffectsService {
  url: string;
  /** Start calls per idempotency key. */
  calls: Map<string, number>;
  callbacksDelivered: number;
  callbacksRefused: number;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function postCallback(url: string, token: string, service: EffectsService, closing: AbortSignal): Promise<void> {
  for (let attempt = 1; attempt <= 20 && !closing.aborted; attempt++) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ callback_token: token, status: "success", metadata: { via: "chaos" } }),
      });
      await res.text();
      if (res.ok) return void service.callbacksDelivered++;
      // 4xx: the token's attempt was superseded (its worker was killed): nothing to retry.
      if (res.status < 500) return void service.callbacksRefused++;
    } catch {
      // Network error: retry.
    }
    await sleep(Math.min(100 * 2 ** attempt, 2_000));
  }
}

export async function startEffectsService(delayMs = 50): Promise<EffectsService> {
  const pollsSeen = new Map<string, number>();
  const closing = new AbortController();
  const service: EffectsService = { url: "", calls: new Map(), callbacksDelivered: 0, callbacksRefused: 0, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      const answer = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const path = (req.url ?? "/").split("?")[0]!;
      const key = String(req.headers["idempotency-key"] ?? "");
      if (req.method === "GET" && path.startsWith("/status/")) {
        const op = decodeURIComponent(path.slice("/status/".length));
        const n = (pollsSeen.get(op) ?? 0) + 1;
        pollsSeen.set(op, n);
        return answer(200, { status: n >= 3 ? "done" : "pending" });
      }
      if (req.method !== "POST" || !["/act", "/cb", "/poll"].includes(path)) return answer(404, { error: "no route" });
      service.calls.set(key, (service.calls.get(key) ?? 0) + 1);
      const body = JSON.parse(text || "{}") as { callback_url?: string; callback_token?: string };
      setTimeout(() => {
        if (path === "/poll") return answer(200, { operation_id: key });
        answer(200, { ok: true });
        if (path === "/cb") setTimeout(() => void postCallback(body.callback_url!, body.callback_token!, service, closing.signal), delayMs);
      }, delayMs);
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  service.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  service.close = () =>
    new Promise<void>((resolve) => {
      closing.abort();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return service;
}
