/** The runner's report: signed like any third-party runner, retried on 5xx under the same id. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postRunReport } from "../../src/runner/report.js";

const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
let answers: number[] = [];
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      const status = answers.shift() ?? 200;
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ status }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/etl/meltano/webhook`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const body = { connector_id: "c", run_id: "r", status: "success" as const, rows_synced: 3, state: { bookmarks: {} }, error_msg: null };

describe("postRunReport", () => {
  it("retries 5xx and 429 with backoff under one webhook-id, each attempt verifiable with the secret", async () => {
    received.length = 0;
    answers = [503, 429, 200];
    const outcome = await postRunReport({ url, secret, webhookId: "msg_run_r_1", body, initialDelayMs: 10 });
    expect(outcome.status).toBe(200);
    expect(received).toHaveLength(3);
    for (const { headers, body: raw } of received) {
      expect(headers["webhook-id"]).toBe("msg_run_r_1");
      expect(new Webhook(secret).verify(raw, headers as Record<string, string>)).toEqual(body);
    }
  });

  it("does not retry a 4xx answer, and gives up after its attempts on network errors", async () => {
    received.length = 0;
    answers = [409];
    expect((await postRunReport({ url, secret, webhookId: "msg_x", body, initialDelayMs: 10 })).status).toBe(409);
    expect(received).toHaveLength(1);
    await expect(postRunReport({ url: "http://127.0.0.1:1/nowhere", secret, webhookId: "msg_y", body, attempts: 3, initialDelayMs: 10 })).rejects.toThrow(
      /not delivered after 3 attempts/,
    );
  });
});
