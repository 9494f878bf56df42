/**
 * Hostile REST (issue 8, part 2): every route of the shim gets generated forgeries and invalid
 * input (see rest-generate.ts). `npm test` runs a few hundred cases; `npm run fuzz` FUZZ_CASES
 * (10,000). Expect: never a crash or a 5xx, never an internal error or a stack/SQL in a body,
 * never an accepted forgery, and not one row of the database changed (fingerprinted before and
 * after); afterwards the live callback token and an honest report still work, so nothing was
 * burnt either.
 */
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StartServiceProvisioningDocument } from "../../schema/generated/operations.js";
import { createTenant, postReport, register } from "../helpers/connectors.js";
import { eventsUntil, isWorkflowEvent } from "../helpers/engine.js";
import { runCases } from "./pool.js";
import { recordReliability } from "../helpers/reliability.js";
import { fuzzCommand } from "./generate.js";
import { noteSecret, notedSecrets, scanForSecrets } from "../helpers/secrets.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { startTestService, writeCatalogue, type TestService } from "../helpers/test-service.js";
import { rng } from "./generate.js";
import { generateRestCase, type RestFixture } from "./rest-generate.js";

const CASES = Number(process.env.FUZZ_CASES ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const CONCURRENCY = 8;
const LEAK = /\bat [\w.<>]+ \(|node_modules|\.ts:\d+|\bselect\b.*\bfrom\b|relation ".*"|syntax error at or near|duplicate key|violates/i;
const TABLES = [
  "tenant",
  "tenant_api_key",
  "tenant_settings",
  "lakehouse.tenant_catalogs",
  "connector",
  "connector_run",
  "connector_run_claim",
  "connector_tap_state",
  "connector_field_mapping",
  "connector_webhook_delivery",
  "workflow",
  "workflow_step",
  "workflow_callback_token",
  "event",
];

/** One md5 per table over every row: any write anywhere shows. */
async function fingerprint(t: TestGantry): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const [row] = await t.db.query<{ h: string | null }>(`select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${table} x`);
    out[table] = row!.h ?? "";
  }
  return out;
}

/** The `data` of a shim answer with its keys sorted (a stored answer comes back from jsonb in its key order). */
function sameData(text: string): string {
  const data = (JSON.parse(text) as { data?: Record<string, unknown> }).data ?? {};
  return JSON.stringify(Object.fromEntries(Object.entries(data).sort(([a], [b]) => a.localeCompare(b))));
}

describe("REST fuzz", () => {
  let svc: TestService;
  let t: TestGantry;
  let f: RestFixture;
  const callback = (body: unknown) =>
    fetch(`${t.url}/api/v1/provisioning/callback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  beforeAll(async () => {
    svc = await startTestService({ "POST /cb": () => ({ status: 202, body: {} }) });
    const once = { maxAttempts: 1, initialDelayMs: 10, backoffFactor: 2, maxDelayMs: 50, jitter: 0 };
    const file = await writeCatalogue([
      { slug: "live", name: "Live", steps: [{ name: "confirm", kind: "callback", url: `${svc.url}/cb`, timeoutMs: 3_600_000 }] },
      { slug: "used", name: "Used", steps: [{ name: "confirm", kind: "callback", url: `${svc.url}/cb`, timeoutMs: 3_600_000 }] },
      { slug: "expiring", name: "Expiring", steps: [{ name: "confirm", kind: "callback", url: `${svc.url}/cb`, timeoutMs: 200, retry: once }] },
    ]);
    // No scheduler or runner: nothing may change the database on its own while the fuzz runs.
    t = await startTestGantry({ env: { GANTRY_SERVICES: file, GANTRY_ROLES: "api,worker" } });
    noteSecret(t.adminKey, "admin key");
    noteSecret(t.jwtSecret, "JWT secret");
    const a = await createTenant(t.db, "rest-fuzz-a");
    const b = await createTenant(t.db, "rest-fuzz-b");
    const tokenA = await t.tokenFor(a);
    const tokenB = await t.tokenFor(b);
    noteSecret(tokenA, "tenant JWT");
    const tapPassword = `tap-pw-${randomUUID()}`;
    noteSecret(tapPassword, "tap config value");
    const ca = await register(t, tokenA, { config: { password: tapPassword } });
    const cb = await register(t, tokenB, { config: { password: tapPassword } });
    noteSecret(ca.webhookSecret, "webhook secret");
    noteSecret(cb.webhookSecret, "webhook secret");
    const insertRun = async (tenant: string, connector: string) => {
      const id = randomUUID();
      await t.db.query(`insert into connector_run (id, tenant_id, connector_id, status, trigger) values ($1, $2, $3, 'QUEUED', 'MANUAL')`, [id, tenant, connector]);
      return id;
    };
    // One delivery accepted before the fuzz (its replays must answer the same and change nothing).
    const firstRun = await insertRun(a, ca.connector.id);
    const acceptedId = `msg_${randomUUID()}`;
    const acceptedAt = new Date();
    const acceptedBody = JSON.stringify({ connector_id: ca.connector.id, run_id: firstRun, status: "failed", error_msg: "boom" });
    const acceptedHeaders = {
      "content-type": "application/json",
      "webhook-id": acceptedId,
      "webhook-timestamp": String(Math.floor(acceptedAt.getTime() / 1000)),
      "webhook-signature": new Webhook(ca.webhookSecret).sign(acceptedId, acceptedAt, acceptedBody),
    };
    const first = await fetch(`${t.url}/v1/etl/meltano/webhook`, { method: "POST", headers: acceptedHeaders, body: acceptedBody });
    expect(first.status).toBe(200);
    const answer = await first.text();
    const runId = await insertRun(a, ca.connector.id);
    const otherRunId = await insertRun(b, cb.connector.id);

    // Callback tokens: one live (waiting), one used, one expired.
    const tokenOf = async (slug: string, nth: number) => {
      const wf = (await t.gql(StartServiceProvisioningDocument, { serviceSlug: slug }, { token: tokenA })).data!.startServiceProvisioning;
      const token = (await svc.nextRequest("POST /cb", nth)).body.callback_token as string;
      noteSecret(token, "callback token");
      return { wf, token };
    };
    const live = await tokenOf("live", 1);
    await eventsUntil(t, live.wf.id, (e) => e.type === "step.waiting_callback");
    const used = await tokenOf("used", 2);
    await eventsUntil(t, used.wf.id, (e) => e.type === "step.waiting_callback");
    expect((await callback({ callback_token: used.token, status: "success", credentials: { password: `svc-${randomUUID()}` } })).status).toBe(200);
    await eventsUntil(t, used.wf.id, isWorkflowEvent("workflow.completed"));
    const expired = await tokenOf("expiring", 3);
    await eventsUntil(t, expired.wf.id, isWorkflowEvent("workflow.failed"));

    f = {
      url: t.url,
      adminKey: t.adminKey,
      tenantToken: tokenA,
      connectorId: ca.connector.id,
      secret: ca.webhookSecret,
      runId,
      otherConnectorId: cb.connector.id,
      otherSecret: cb.webhookSecret,
      otherRunId,
      accepted: { headers: acceptedHeaders, body: acceptedBody, answer },
      liveToken: live.token,
      usedToken: used.token,
      expiredToken: expired.token,
    };
  });
  afterAll(async () => {
    await t.stop();
    await svc.close();
  });

  it(`survives ${CASES} generated REST cases with no state change`, async () => {
    const r = rng(SEED);
    const cases = Array.from({ length: CASES }, () => generateRestCase(r, f));
    const before = await fingerprint(t);
    const failures: string[] = [];
    const statuses: Record<number, number> = {};
    const responses: string[] = [];
    let crashes = 0;
    let internal = 0;
    let forgeries = 0;
    const { rssStart, rssPeak } = await runCases(cases, CONCURRENCY, async (c, index) => {
      let status = 0;
      let text = "";
      let type = "";
      try {
        const res = await fetch(`${t.url}${c.path}`, {
          method: c.method,
          headers: c.headers,
          body: c.method === "GET" || c.method === "HEAD" ? undefined : c.body,
          redirect: "manual",
        });
        status = res.status;
        type = res.headers.get("content-type") ?? "";
        text = await res.text();
      } catch (err) {
        crashes++;
        failures.push(`#${index} ${c.description}: transport error ${String(err)}`);
        return;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
      const isAsset = status < 300 && !type.includes("json");
      if (!isAsset) responses.push(text);
      if (status >= 500 || text.includes("INTERNAL_SERVER_ERROR")) {
        internal++;
        failures.push(`#${index} ${c.description}: ${status} ${text.slice(0, 200)}`);
      }
      if (!isAsset && LEAK.test(text)) failures.push(`#${index} ${c.description}: leaky body ${text.slice(0, 200)}`);
      if (c.expect === "refused" && status >= 200 && status < 300) {
        forgeries++;
        failures.push(`#${index} ${c.description}: accepted (${status}) ${text.slice(0, 200)}`);
      }
      if (c.expect === "replay" && (status !== 200 || sameData(text) !== sameData(f.accepted.answer))) {
        forgeries++;
        failures.push(`#${index} ${c.description}: replay answered ${status} ${text.slice(0, 200)}, not the first answer`);
      }
    });

    const after = await fingerprint(t);
    const changed = TABLES.filter((table) => before[table] !== after[table]);
    const healthy = await fetch(`${t.url}/healthz`).then((res) => res.status);
    // Nothing was burnt: the live token and an honest report still work after the fuzz.
    const liveStill = await callback({ callback_token: f.liveToken, status: "success" });
    const honest = await postReport(t.url, f.secret, { connector_id: f.connectorId, run_id: f.runId, status: "failed", error_msg: "honest" });
    const leaks = scanForSecrets("REST fuzz", [...responses, ...t.logs]);

    recordReliability("fuzz-rest", fuzzCommand(CASES, SEED), [
      { figure: "cases", value: CASES, target: "≥ 10,000 (full)", ok: CASES >= 10_000 || process.env.GANTRY_RELIABILITY_MODE !== "full" },
      { figure: "crashes", value: crashes + (healthy === 200 ? 0 : 1), target: "0", ok: crashes === 0 && healthy === 200 },
      { figure: "internal errors", value: internal, target: "0", ok: internal === 0 },
      { figure: "forgeries accepted", value: forgeries, target: "0", ok: forgeries === 0 },
      { figure: "partial writes (tables changed)", value: changed.length, target: "0", ok: changed.length === 0 },
      { figure: "secrets leaked", value: leaks.length, target: "0", ok: leaks.length === 0 },
      { figure: "statuses", value: Object.entries(statuses).map(([s, n]) => `${s}×${n}`).join(" ") },
      { figure: "peak RSS growth (MB)", value: Math.round((rssPeak - rssStart) / 2 ** 20), target: "< 1024", ok: rssPeak - rssStart < 1024 * 2 ** 20 },
      { figure: "secrets planted", value: notedSecrets() },
    ]);

    expect({ failures: failures.slice(0, 20), changed }).toEqual({ failures: [], changed: [] });
    expect(leaks).toEqual([]);
    expect(healthy).toBe(200);
    expect(liveStill.status).toBe(200);
    expect(honest.status).toBe(200);
    expect(rssPeak - rssStart).toBeLessThan(1024 * 2 ** 20);
  }, 900_000);
});
