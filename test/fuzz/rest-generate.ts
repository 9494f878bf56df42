/**
 * Hostile REST requests for every route of the shim (the run webhook, the provisioning callback,
 * the seed's admin tenant endpoints, the GraphQL endpoint's raw transport, health and assets).
 * Deterministic for a seed. Every case is a forgery or invalid input except the replays of one
 * delivery that was accepted before the fuzz started (`replay`), which must get the first answer
 * again and change nothing.
 */
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { HOSTILE_STRINGS, type Rng } from "./generate.js";

const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;

export interface RestFixture {
  url: string;
  adminKey: string;
  tenantToken: string;
  /** Tenant A's connector, its secret, and its QUEUED run (the target of every forged report). */
  connectorId: string;
  secret: string;
  runId: string;
  /** Tenant B's connector, secret and QUEUED run (wrong-secret and cross-connector forgeries). */
  otherConnectorId: string;
  otherSecret: string;
  otherRunId: string;
  /** A delivery accepted before the fuzz: its exact headers and body, and its first answer. */
  accepted: { headers: Record<string, string>; body: string; answer: string };
  /** The live callback token of a WAITING_CALLBACK step (only ever sent tampered). */
  liveToken: string;
  usedToken: string;
  expiredToken: string;
}

export type Expect = "refused" | "replay" | "any";

export interface RestCase {
  description: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** "refused": a forgery or invalid input, must not be 2xx; "replay": must equal the first answer. */
  expect: Expect;
}

/** Identifier-shaped SQL injections (ids, slugs, table names, namespaces). */
export const INJECTIONS = [
  "' or '1'='1",
  "1; drop table connector; --",
  "00000000-0000-0000-0000-000000000000' or 1=1 --",
  "x\"; drop schema lakehouse cascade; --",
  "tenant_a; select pg_sleep(10)",
  "acme') union select id, webhook_secret_envelope from connector --",
  "gantry_tenant_x\" cascade; --",
  "$$; drop table tenant; $$",
  "\\'; copy tenant to '/tmp/x'; --",
  "%27%20or%201%3D1",
  "a\u0000b",
  "../../../../etc/passwd",
];

const HUGE_NUMBERS = [1e308, -1, 2 ** 64, Number.MAX_SAFE_INTEGER + 2, 1.5, -0, 9e15];

/** Wrong-typed or hostile values for a JSON field. */
function hostileValue(r: Rng): unknown {
  switch (Math.floor(r() * 8)) {
    case 0:
      return pick(r, HOSTILE_STRINGS);
    case 1:
      return pick(r, INJECTIONS);
    case 2:
      return pick(r, HUGE_NUMBERS);
    case 3:
      return pick(r, [true, false, null]);
    case 4:
      return [pick(r, INJECTIONS), 1, null];
    case 5:
      return { __proto__: { polluted: true }, constructor: { prototype: { x: 1 } } };
    case 6:
      return nested(Math.floor(r() * 3000) + 10);
    default:
      return "\u0000".repeat(Math.floor(r() * 100) + 1);
  }
}

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = r2(i) ? { a: value } : [value];
  return value;
  function r2(i: number) {
    return i % 2 === 0;
  }
}

const MALFORMED_JSON = ["{", "{\"a\":", "[1,2", "nul", "{\"a\":1}}", "\u0000", "{\"a\":\"\\u0000\"}x", "'single'", "{a:1}", "\ufeff{}", "".padEnd(5000, "["), "{\"__proto__\":{\"x\":1}}"];

const CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "application/xml", ""];

function webhookHeaders(id: string, timestamp: Date, signature: string, contentType = "application/json"): Record<string, string> {
  const h: Record<string, string> = { "webhook-id": id, "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)), "webhook-signature": signature };
  if (contentType) h["content-type"] = contentType;
  return h;
}

function sign(secret: string, id: string, at: Date, body: string): string {
  return new Webhook(secret).sign(id, at, body);
}

/** A report body made invalid by exactly one mutation (a well-signed body must still be refused). */
function invalidReport(r: Rng, f: RestFixture): { body: string; what: string } {
  const base: Record<string, unknown> = { connector_id: f.connectorId, run_id: f.runId, status: "success", rows_synced: 1, state: null, error_msg: null };
  const field = pick(r, ["connector_id", "run_id", "status", "rows_synced", "state", "error_msg", "whole"] as const);
  if (field === "whole") {
    const body = pick(r, [...MALFORMED_JSON, "[]", "null", "42", "\"str\""]);
    return { body, what: `malformed body ${JSON.stringify(body.slice(0, 20))}` };
  }
  let value = hostileValue(r);
  // A mutation that happens to be valid would be an honest report, not a forgery: force it invalid.
  // (rows_synced may be null or absent: it means 0.)
  if (field === "rows_synced" && (value === null || (typeof value === "number" && Number.isSafeInteger(value) && value >= 0))) value = -1;
  if (field === "state" && (value === null || (typeof value === "object" && !Array.isArray(value)))) value = "not-an-object";
  if (field === "error_msg" && (typeof value === "string" || value === null)) value = r() < 0.5 ? 42 : "tap failed\u0000here";
  if (field === "state" && value === "not-an-object" && r() < 0.5) value = { bookmarks: { orders: "\u0000" } };
  if (field === "run_id" && r() < 0.5) value = pick(r, [randomUUID(), f.otherRunId]);
  if (field === "connector_id" && r() < 0.3) value = randomUUID();
  base[field] = value;
  // run_id of another connector's run, or an unknown uuid: 404, not a write.
  return { body: JSON.stringify(base), what: `${field}=${JSON.stringify(value)?.slice(0, 40)}` };
}

function webhookCase(r: Rng, f: RestFixture): RestCase {
  const path = "/v1/etl/meltano/webhook";
  const good = JSON.stringify({ connector_id: f.connectorId, run_id: f.runId, status: pick(r, ["success", "failed"]), rows_synced: 5, state: { bookmarks: {} } });
  const id = `msg_${randomUUID()}`;
  const now = new Date();
  const kind = Math.floor(r() * 11);
  switch (kind) {
    case 0: {
      const h = webhookHeaders(id, now, sign(f.secret, id, now, good));
      const drop = pick(r, ["webhook-id", "webhook-timestamp", "webhook-signature"]);
      delete h[drop];
      return { description: `webhook missing ${drop}`, method: "POST", path, headers: h, body: good, expect: "refused" };
    }
    case 1: {
      const secret = pick(r, [f.otherSecret, `whsec_${Buffer.from(randomUUID()).toString("base64")}`]);
      return { description: "webhook signed with a wrong secret", method: "POST", path, headers: webhookHeaders(id, now, sign(secret, id, now, good)), body: good, expect: "refused" };
    }
    case 2: {
      const sig = sign(f.secret, id, now, good);
      const tampered = pick(r, [good.replace('"rows_synced":5', '"rows_synced":50000'), good.replace(f.runId, f.otherRunId), good + " ", good.replace("bookmarks", "bookmarkz")]);
      return { description: "webhook with a tampered body", method: "POST", path, headers: webhookHeaders(id, now, sig), body: tampered, expect: "refused" };
    }
    case 3: {
      const at = new Date(now.getTime() + pick(r, [-1, 1]) * (6 + Math.floor(r() * 10_000)) * 60_000);
      return { description: "webhook with a stale or future timestamp", method: "POST", path, headers: webhookHeaders(id, at, sign(f.secret, id, at, good)), body: good, expect: "refused" };
    }
    case 4:
      return { description: "replay of an accepted delivery", method: "POST", path, headers: { ...f.accepted.headers }, body: f.accepted.body, expect: "replay" };
    case 5: {
      // Same webhook-id as the accepted delivery, new body for the queued run, correctly signed:
      // the first answer again, and no effect on the queued run.
      const replayId = f.accepted.headers["webhook-id"]!;
      return { description: "replayed webhook-id with a new body", method: "POST", path, headers: webhookHeaders(replayId, now, sign(f.secret, replayId, now, good)), body: good, expect: "replay" };
    }
    case 6: {
      const { body, what } = invalidReport(r, f);
      return { description: `signed webhook, invalid body: ${what}`, method: "POST", path, headers: webhookHeaders(id, now, sign(f.secret, id, now, body), pick(r, CONTENT_TYPES)), body, expect: "refused" };
    }
    case 7: {
      // B's connector id in a body signed with A's secret, and A's run under B's connector.
      const body = pick(r, [
        JSON.stringify({ connector_id: f.otherConnectorId, run_id: f.otherRunId, status: "success", rows_synced: 1 }),
        JSON.stringify({ connector_id: f.otherConnectorId, run_id: f.runId, status: "failed" }),
      ]);
      return { description: "webhook for another tenant's connector signed with A's secret", method: "POST", path, headers: webhookHeaders(id, now, sign(f.secret, id, now, body)), body, expect: "refused" };
    }
    case 8: {
      const size = 256 * 1024 + 1 + Math.floor(r() * 2 * 1024 * 1024);
      const body = Buffer.alloc(size, pick(r, ["a", "{", "\u0000"]));
      return { description: `webhook body of ${size} bytes`, method: "POST", path, headers: webhookHeaders(id, now, "v1,AAAA"), body, expect: "refused" };
    }
    case 9: {
      const headers = webhookHeaders(
        pick(r, [id, "x".repeat(201), "msg_'; drop table connector_webhook_delivery; --", "\u00e9\u00e8"]),
        now,
        pick(r, ["v1,", "v2," + Buffer.from("x").toString("base64"), "v1,!!!!", "v1," + "A".repeat(10_000), "", "v1,a v1,b v1,c".repeat(200)]),
        pick(r, CONTENT_TYPES),
      );
      headers["webhook-timestamp"] = pick(r, [headers["webhook-timestamp"]!, "abc", "-1", "1e309", "99999999999999999999", " ", "0x10"]);
      return { description: "webhook with hostile header values", method: "POST", path, headers, body: good, expect: "refused" };
    }
    default: {
      const body = pick(r, [...MALFORMED_JSON, ...INJECTIONS]);
      return { description: "unsigned hostile webhook body", method: pick(r, ["POST", "PUT", "GET", "DELETE", "PATCH"]), path, headers: { "content-type": pick(r, CONTENT_TYPES) || "text/plain" }, body, expect: "refused" };
    }
  }
}

function tamperedToken(r: Rng, token: string): string {
  const i = Math.floor(r() * token.length);
  const flip = (c: string) => (c === "a" ? "b" : "a");
  return pick(r, [
    token.slice(0, i) + flip(token[i]!) + token.slice(i + 1),
    token + pick(r, ["x", "\u0000", " ", "'--"]),
    token.slice(0, -1),
    token.toUpperCase(),
    ` ${token}`,
    token.replace("gcb_", ""),
    token.slice(0, i) + "\u0000" + token.slice(i),
  ]);
}

function callbackCase(r: Rng, f: RestFixture): RestCase {
  const path = "/api/v1/provisioning/callback";
  const kind = Math.floor(r() * 7);
  const token = (() => {
    switch (kind) {
      case 0:
        return `gcb_${Buffer.from(randomUUID() + randomUUID()).toString("base64url").slice(0, 43)}`;
      case 1:
        return f.usedToken;
      case 2:
        return f.expiredToken;
      case 3:
        return tamperedToken(r, f.liveToken);
      case 4:
        return pick(r, INJECTIONS);
      default:
        return tamperedToken(r, f.liveToken);
    }
  })();
  const body: Record<string, unknown> = { callback_token: token, status: pick(r, ["success", "failed"]), endpoint: "https://forged.example", credentials: { password: "forged" } };
  if (r() < 0.4) body[pick(r, ["callback_token", "status", "endpoint", "credentials", "error", "metadata"])] = hostileValue(r);
  let text = JSON.stringify(body);
  let contentType = "application/json";
  if (kind === 5) text = pick(r, MALFORMED_JSON);
  if (kind === 6) {
    contentType = pick(r, CONTENT_TYPES);
    if (r() < 0.3) text = JSON.stringify({ ...body, pad: "x".repeat(256 * 1024 + Math.floor(r() * 1024 * 1024)) });
  }
  const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
  return { description: `callback kind ${kind} token ${JSON.stringify(String(token).slice(0, 30))}`, method: "POST", path, headers, body: text, expect: "refused" };
}

function adminCase(r: Rng, f: RestFixture): RestCase {
  const auth: Record<string, string> = pick<Record<string, string>>(r, [{}, { "x-api-key": "forged-admin-key-0000" }, { authorization: `Bearer ${f.tenantToken}` }, { authorization: "Bearer x.y.z" }, { "x-api-key": f.adminKey }]);
  if (r() < 0.5) {
    const slug = encodeURIComponent(pick(r, [...INJECTIONS, ...HOSTILE_STRINGS.slice(0, 14), "nobody-here"]).replace(/[\ud800-\udfff]/g, "?"));
    return { description: `tenant status for ${slug.slice(0, 40)}`, method: "GET", path: `/v1/admin/tenants/${slug}/status`, headers: auth, expect: "refused" };
  }
  // Slugs that can never be valid (SPEC: ^[a-z][a-z0-9-]*[a-z0-9]$, 3–40), so no case creates a tenant.
  const body = pick(r, [
    () => JSON.stringify({ slug: pick(r, INJECTIONS), name: pick(r, HOSTILE_STRINGS) }),
    () => JSON.stringify({ slug: hostileValue(r), name: hostileValue(r) }),
    () => JSON.stringify({ slug: "UPPER-" + pick(r, INJECTIONS), name: "x" }),
    () => pick(r, MALFORMED_JSON),
    () => JSON.stringify({ slug: "bad slug", name: "x".repeat(20 * 1024) }),
  ])();
  return { description: "admin create tenant", method: "POST", path: "/v1/admin/tenants", headers: { "content-type": pick(r, CONTENT_TYPES) || "application/json", ...auth }, body, expect: "refused" };
}

function graphqlTransportCase(r: Rng, f: RestFixture): RestCase {
  const auth: Record<string, string> = pick<Record<string, string>>(r, [{}, { authorization: `Bearer ${f.tenantToken}` }, { authorization: pick(r, ["Bearer", "Basic abc", "Bearer \u00e9", `Bearer ${f.tenantToken}x`]) }, { "x-api-key": pick(r, ["", "x", f.adminKey + "x"]) }]);
  const kind = Math.floor(r() * 4);
  if (kind === 0) return { description: "graphql malformed JSON", method: "POST", path: "/graphql", headers: { "content-type": "application/json", ...auth }, body: pick(r, MALFORMED_JSON), expect: "refused" };
  if (kind === 1) {
    return { description: "graphql body over 1 MB", method: "POST", path: "/graphql", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify({ query: "{ viewer { kind } }", pad: "x".repeat(1024 * 1024 + 1) }), expect: "refused" };
  }
  if (kind === 2) {
    return { description: "graphql wrong content type", method: pick(r, ["POST", "PUT", "PATCH", "DELETE"]), path: "/graphql", headers: { "content-type": pick(r, CONTENT_TYPES.slice(1)) || "text/plain", ...auth }, body: "query { viewer { kind } }", expect: "any" };
  }
  const q = encodeURIComponent(pick(r, ["{ viewer { kind } }", "mutation { deleteConnector(id: \"x\") { id } }", ...INJECTIONS, "{".repeat(5000)]));
  return { description: "graphql GET with hostile query", method: "GET", path: `/graphql?query=${q}&variables=${encodeURIComponent(pick(r, MALFORMED_JSON))}`, headers: { accept: "application/json", ...auth }, expect: "any" };
}

function miscCase(r: Rng): RestCase {
  const path = pick(r, [
    "/healthz",
    "/readyz",
    "/healthz?x=%00",
    "/dashboard/..%2f..%2f..%2fetc%2fpasswd",
    "/dashboard/%2e%2e/%2e%2e/package.json",
    "/graphiql/../../../src/config.ts",
    "/v1/etl/meltano/webhook/../../../../etc/passwd",
    "/%E0%A4%A",
    "/v1/admin/tenants/%ZZ/status",
    "/api/v1/provisioning/callback?callback_token=x",
    `/${"a".repeat(8000)}`,
  ]);
  return { description: `misc ${path.slice(0, 60)}`, method: pick(r, ["GET", "POST", "OPTIONS", "HEAD", "DELETE"]), path, headers: { "content-type": "application/json" }, body: "{}", expect: "any" };
}

export function generateRestCase(r: Rng, f: RestFixture): RestCase {
  const x = r();
  if (x < 0.4) return webhookCase(r, f);
  if (x < 0.68) return callbackCase(r, f);
  if (x < 0.83) return adminCase(r, f);
  if (x < 0.95) return graphqlTransportCase(r, f);
  return miscCase(r);
}
