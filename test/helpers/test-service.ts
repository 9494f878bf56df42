/**
 * A real HTTP service on a free port standing in for the external services that provisioning
 * steps call. Routes are plain functions; every request is recorded (and counted) so tests can
 * assert how often a side effect happened.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
  at: number;
}

export type Route = (req: RecordedRequest, nth: number) => { status?: number; body?: unknown; delayMs?: number } | Promise<{ status?: number; body?: unknown; delayMs?: number }>;

export interface TestService {
  url: string;
  requests: RecordedRequest[];
  routes: Map<string, Route>;
  /** Requests to `METHOD path` so far. */
  count(key: string): number;
  /** Resolves with the nth (1-based) request to `METHOD path`, waiting for it if need be. */
  nextRequest(key: string, nth?: number, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

export async function startTestService(routes: Record<string, Route> = {}): Promise<TestService> {
  const table = new Map(Object.entries(routes));
  const requests: RecordedRequest[] = [];
  const waiters: { key: string; nth: number; resolve: (r: RecordedRequest) => void }[] = [];
  const keyOf = (r: RecordedRequest) => `${r.method} ${r.path}`;
  const server: Server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", async () => {
      const url = new URL(req.url ?? "/", "http://x");
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        path: url.pathname,
        headers: req.headers,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        at: Date.now(),
      };
      requests.push(recorded);
      const key = keyOf(recorded);
      const nth = requests.filter((r) => keyOf(r) === key).length;
      for (const w of [...waiters]) {
        if (w.key === key && w.nth === nth) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(recorded);
        }
      }
      const route = table.get(key);
      try {
        const answer = route ? await route(recorded, nth) : { status: 404, body: { error: "no route" } };
        if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
        res.writeHead(answer.status ?? 200, { "content-type": "application/json" });
        res.end(JSON.stringify(answer.body ?? {}));
      } catch (err) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: String(err) }));
      }
    });
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    routes: table,
    count: (key) => requests.filter((r) => keyOf(r) === key).length,
    nextRequest(key, nth = 1, timeoutMs = 20_000) {
      const existing = requests.filter((r) => keyOf(r) === key)[nth - 1];
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no request #${nth} to ${key} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ key, nth, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes a services catalogue to a temporary file; returns its path. */
export async function writeCatalogue(services: unknown[]): Promise<string> {
  const { default: fs } = await import("node:fs");
  const { default: os } = await import("node:os");
  const { default: path } = await import("node:path");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-services-"));
  const file = path.join(dir, "services.json");
  fs.writeFileSync(file, JSON.stringify({ services }, null, 2));
  return file;
}
