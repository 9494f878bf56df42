/**
 * The run webhook's raw route (node:http, before Express) answers exactly as the Express route
 * it shadows, and leaves every request it does not take to Express. The Express route still
 * serves the path with a query string, so each case is sent both ways and compared.
 */
import http from "node:http";
import { gzipSync } from "node:zlib";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { systemEm } from "../../src/db/orm.js";
import { WebhookConnectorLookup } from "../../src/connectors/webhook-lookup.js";
import { findWebhookConnectors } from "../../src/connectors/sql/findWebhookConnectors.js";
import { WEBHOOK_BODY_LIMIT_BYTES, WEBHOOK_PATH } from "../../src/connectors/webhook.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { createTenant, queueRun as queueRunFor, unscheduledConnector } from "../helpers/connectors.js";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, any>;
}

describe("connectors: the webhook's raw route", () => {
  let t: TestGantry;
  let token: string;
  let tenantId: string;

  /** POSTs raw bytes with node:http (full control of Content-Length, chunking and coding). */
  function post(target: string, headers: Record<string, string>, body: Buffer, options: { chunked?: boolean } = {}): Promise<Answer> {
    const url = new URL(target, t.url);
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        { method: "POST", headers: options.chunked ? headers : { ...headers, "content-length": String(body.length) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            try {
              resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      req.on("error", reject);
      if (options.chunked) {
        // Two writes without a length: Transfer-Encoding: chunked.
        req.write(body.subarray(0, 1));
        req.end(body.subarray(1));
      } else {
        req.end(body);
      }
    });
  }

  function signed(secret: string, raw: string | Buffer, id = `msg_${randomUUID()}`): Record<string, string> {
    const now = new Date();
    return {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, now, raw.toString()),
    };
  }

  const fresh = () => unscheduledConnector(t, token);
  const queueRun = (connectorId: string) => queueRunFor(t.db, tenantId, connectorId);

  /** The answer without what differs on every request. */
  const comparable = (a: Answer) => ({
    status: a.status,
    body: { ...a.body, meta: { ...a.body.meta, request_id: typeof a.body.meta?.request_id } },
    headers: Object.keys(a.headers).filter((h) => h !== "date").sort(),
    type: a.headers["content-type"],
    requestIdEchoed: a.headers["x-request-id"] === a.body.meta?.request_id,
  });

  /** Sends the same request to the raw route and to Express (query string); both answers. */
  async function bothWays(headers: Record<string, string>, body: Buffer): Promise<[Answer, Answer]> {
    return [await post(WEBHOOK_PATH, headers, body), await post(`${WEBHOOK_PATH}?via=express`, headers, body)];
  }

  beforeAll(async () => {
    t = await startTestGantry({ env: { GANTRY_ROLES: "api" } });
    tenantId = await createTenant(t.db, "rawroute");
    token = await t.tokenFor(tenantId);
  });
  afterAll(() => t.stop());

  it("answers every refusal as the Express route does: status, body, headers", async () => {
    const c = await fresh();
    const runId = await queueRun(c.id);
    const good = Buffer.from(JSON.stringify({ connector_id: c.id, run_id: runId, status: "success", rows_synced: 1 }));
    const wrongSecret = `whsec_${randomBytes(32).toString("base64")}`;
    const cases: Array<[string, Record<string, string>, Buffer]> = [
      ["no signature headers", { "content-type": "application/json" }, good],
      ["bad signature", signed(wrongSecret, good), good],
      ["stale timestamp", { ...signed(c.secret, good), "webhook-timestamp": String(Math.floor(Date.now() / 1000) - 600) }, good],
      ["not JSON", signed(c.secret, "not json"), Buffer.from("not json")],
      ["empty body", signed(c.secret, ""), Buffer.alloc(0)],
      ["no connector id", signed(c.secret, "{}"), Buffer.from("{}")],
      ["unknown connector", ...((b) => [signed(c.secret, b), b] as const)(Buffer.from(JSON.stringify({ connector_id: randomUUID(), run_id: runId, status: "success" })))],
      ["unknown run", ...((b) => [signed(c.secret, b), b] as const)(Buffer.from(JSON.stringify({ connector_id: c.id, run_id: randomUUID(), status: "success" })))],
      ["invalid fields", ...((b) => [signed(c.secret, b), b] as const)(Buffer.from(JSON.stringify({ connector_id: c.id, run_id: runId, status: "done", rows_synced: -1 })))],
      ["NUL in a string", ...((b) => [signed(c.secret, b), b] as const)(Buffer.from(JSON.stringify({ connector_id: c.id, run_id: runId, status: "failed", error_msg: "a\u0000b" })))],
    ];
    for (const [name, headers, body] of cases) {
      const [raw, viaExpress] = await bothWays(headers, body);
      expect(raw.status, name).toBeGreaterThanOrEqual(400);
      expect(comparable(raw), name).toEqual(comparable(viaExpress));
    }
    // Nothing of the above changed the run.
    expect((await t.db.query(`select status from connector_run where id = $1`, [runId]))[0]!.status).toBe("QUEUED");
  });

  it("answers a report, its replay and a second report of the finished run as Express does", async () => {
    const answers: Answer[][] = [];
    for (const target of [WEBHOOK_PATH, `${WEBHOOK_PATH}?via=express`]) {
      const c = await fresh();
      const runId = await queueRun(c.id);
      const body = Buffer.from(JSON.stringify({ connector_id: c.id, run_id: runId, status: "failed", error_msg: "boom" }));
      const headers = signed(c.secret, body);
      const again = Buffer.from(JSON.stringify({ connector_id: c.id, run_id: runId, status: "success" }));
      answers.push([await post(target, headers, body), await post(target, headers, body), await post(target, signed(c.secret, again), again)]);
    }
    const [raw, viaExpress] = answers as [Answer[], Answer[]];
    expect(raw.map((a) => a.status)).toEqual([200, 200, 409]);
    expect(raw[1]!.body.data).toEqual(raw[0]!.body.data);
    const shape = (a: Answer) => ({ ...comparable(a), body: { ...comparable(a).body, data: a.body.data && { ...a.body.data, run_id: "…", connector_id: "…" } } });
    expect(raw.map(shape)).toEqual(viaExpress.map(shape));
  });

  it("keeps a safe x-request-id and counts the request under the route in the metrics", async () => {
    const [raw] = await bothWays({ "content-type": "application/json", "x-request-id": "runner-42.a" }, Buffer.from("{}"));
    expect(raw.headers["x-request-id"]).toBe("runner-42.a");
    expect(raw.body.meta.request_id).toBe("runner-42.a");
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`gantry_http_request_duration_seconds_count\\{method="POST",route="${WEBHOOK_PATH}",status="401"\\} [1-9]`));
  });

  it("leaves chunked, compressed and oversized bodies to Express, which still reads them", async () => {
    const make = async () => {
      const c = await fresh();
      const runId = await queueRun(c.id);
      const body = Buffer.from(JSON.stringify({ connector_id: c.id, run_id: runId, status: "success", rows_synced: 3 }));
      return { body, headers: signed(c.secret, body) };
    };
    const chunked = await make();
    expect((await post(WEBHOOK_PATH, chunked.headers, chunked.body, { chunked: true })).body.data.status).toBe("LOADING");
    const gzipped = await make();
    const inflated = await post(WEBHOOK_PATH, { ...gzipped.headers, "content-encoding": "gzip" }, gzipSync(gzipped.body));
    expect(inflated.body.data.status).toBe("LOADING");
    // At the limit the raw route reads the body; one byte over, Express answers 413.
    const atLimit = Buffer.alloc(WEBHOOK_BODY_LIMIT_BYTES, " ");
    const [rawAt, expressAt] = await bothWays({ "content-type": "application/json" }, atLimit);
    expect(rawAt.status).toBe(401);
    expect(comparable(rawAt)).toEqual(comparable(expressAt));
    const over = await post(WEBHOOK_PATH, { "content-type": "application/json" }, Buffer.alloc(WEBHOOK_BODY_LIMIT_BYTES + 1, " "));
    expect(over.status).toBe(413);
  });

  it("reads the connectors of reports that arrive together in one statement", async () => {
    const connectors = await Promise.all(Array.from({ length: 6 }, () => fresh()));
    const em = systemEm(t.gantry.services.orm);
    const statements: string[][] = [];
    const lookup = new WebhookConnectorLookup((ids) => {
      statements.push([...ids]);
      return findWebhookConnectors(em, ids);
    });
    const unknown = randomUUID();
    const ids = [...connectors.map((c) => c.id), unknown, connectors[0]!.id];
    const rows = await Promise.all(ids.map((id) => lookup.find(id)));
    expect(statements).toHaveLength(1);
    expect(statements[0]!.sort()).toEqual([...new Set(ids)].sort());
    expect(rows.map((row) => row?.id ?? null)).toEqual([...connectors.map((c) => c.id), null, connectors[0]!.id]);
    expect(rows[0]).toMatchObject({ tenant_id: tenantId, webhook_secret_envelope: expect.stringMatching(/^gcm1/) });
  });
});
