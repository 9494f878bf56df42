/**
 * Service provisioning end to end: a real test service on a free port, the catalogue pointing at
 * it, tenants driving it over GraphQL and the service answering on the REST callback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { startTestService, writeCatalogue, type TestService } from "../helpers/test-service.js";
import { createTenant, eventsUntil, isWorkflowEvent, labels } from "../helpers/engine.js";
import { ProvisioningStatusDocument, StartServiceProvisioningDocument, WorkflowDocument, WorkflowsDocument } from "../../schema/generated/operations.js";

const fast = { maxAttempts: 1, initialDelayMs: 10, backoffFactor: 2, maxDelayMs: 50, jitter: 0 };

describe("engine: service provisioning (action, callback, poll)", () => {
  let svc: TestService;
  let t: TestGantry;
  let tenantA: string;
  let tokenA: string;
  let tokenB: string;

  beforeAll(async () => {
    svc = await startTestService({
      "POST /db": () => ({ body: { database: "db_1", endpoint: "postgres://db.internal:5432/db_1", credentials: { user: "u", password: "s3cret-pw" } } }),
      "POST /users": () => ({ status: 202, body: { accepted: true } }),
      "POST /users-flaky": (_req, nth) => (nth === 1 ? { status: 503 } : { status: 202 }),
      "POST /warm": () => ({ body: { operation_id: "op-7" } }),
      "GET /warm/op-7": (_req, nth) => (nth < 3 ? { body: { status: "pending", progress: nth * 40 } } : { body: { status: "done", endpoint: "https://warm.internal" } }),
    });
    const base = svc.url;
    const file = await writeCatalogue([
      {
        slug: "full",
        name: "Full",
        steps: [
          { name: "create_db", kind: "action", url: `${base}/db` },
          { name: "create_user", kind: "callback", url: `${base}/users`, timeoutMs: 60_000 },
          { name: "warm_up", kind: "poll", url: `${base}/warm`, statusUrl: `${base}/warm/{operation_id}`, pollIntervalMs: 20, pollBackoffFactor: 1.5, timeoutMs: 30_000 },
        ],
      },
      { slug: "expiring", name: "Expiring", steps: [{ name: "confirm", kind: "callback", url: `${base}/users`, timeoutMs: 300, retry: fast }] },
      {
        slug: "flaky-callback",
        name: "Flaky callback",
        steps: [{ name: "confirm", kind: "callback", url: `${base}/users-flaky`, timeoutMs: 60_000, retry: { ...fast, maxAttempts: 2 } }],
      },
    ]);
    t = await startTestGantry({ env: { GANTRY_SERVICES: file } });
    tenantA = await createTenant(t, "svc-a");
    tokenA = await t.tokenFor(tenantA);
    tokenB = await t.tokenFor(await createTenant(t, "svc-b"));
  });
  afterAll(async () => {
    await t.stop();
    await svc.close();
  });

  const callback = (body: unknown) =>
    fetch(`${t.url}/api/v1/provisioning/callback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(
      async (res) => ({ status: res.status, body: (await res.json()) as Record<string, any> }),
    );

  it("runs an action, waits for the callback (token works once), polls to done, and redacts secrets", async () => {
    const started = await t.gql(StartServiceProvisioningDocument, { serviceSlug: "full" }, { token: tokenA });
    const wf = started.data!.startServiceProvisioning;
    expect(wf).toMatchObject({ kind: "service_provisioning", serviceSlug: "full", tenantId: tenantA });
    // Starting again while it runs returns the same workflow.
    const again = await t.gql(StartServiceProvisioningDocument, { serviceSlug: "full" }, { token: tokenA });
    expect(again.data!.startServiceProvisioning.id).toBe(wf.id);

    const request = await svc.nextRequest("POST /users");
    expect(request.headers["idempotency-key"]).toBe(`${wf.id}:create_user:1`);
    expect(request.body).toMatchObject({ workflow_id: wf.id, tenant_id: tenantA, service: "full", step: "create_user", attempt: 1 });
    expect(request.body.callback_url).toBe(`${t.url}/api/v1/provisioning/callback`);
    const token = request.body.callback_token as string;
    const stored = await t.db.query(`select token_hash from workflow_callback_token`);
    expect(JSON.stringify(stored)).not.toContain(token);

    const ok = await callback({ callback_token: token, status: "success", endpoint: "https://user.internal", credentials: { password: "pw-from-callback" }, metadata: { region: "eu" } });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toEqual({ workflow_id: wf.id, step: "create_user", status: "COMPLETED" });
    expect(ok.body.meta.request_id).toBeTruthy();
    const replay = await callback({ callback_token: token, status: "success" });
    expect(replay.status).toBe(401);
    expect(replay.body.error.message).toBe("Callback token already used");

    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.completed"));
    const polled = events.filter((e) => e.type === "step.polled");
    expect(polled.map((e) => e.payload.detail?.status)).toEqual(["pending", "pending", "done"]);
    expect(polled.map((e) => e.payload.detail?.poll)).toEqual([1, 2, 3]);
    expect(labels(events)).toContain("step.waiting_callback(create_user)");
    expect(labels(events)).toContain("step.callback_received(create_user)");

    const status = await t.gql(ProvisioningStatusDocument, { serviceSlug: "full" }, { token: tokenA });
    const detail = status.data!.provisioningStatus!;
    expect(detail.status).toBe("COMPLETED");
    expect(detail.steps.map((s) => [s.name, s.status])).toEqual([
      ["create_db", "COMPLETED"],
      ["create_user", "COMPLETED"],
      ["warm_up", "COMPLETED"],
    ]);
    expect(detail.steps[0]!.output).toEqual({ database: "db_1", endpoint: "[redacted]", credentials: "[redacted]" });
    expect(detail.steps[1]!.output).toEqual({ metadata: { region: "eu" }, endpoint: "[redacted]", credentials: "[redacted]" });
    expect(detail.steps[2]!.output).toEqual({ operation_id: "op-7", endpoint: "[redacted]" });
    const list = await t.gql(WorkflowsDocument, {}, { token: tokenA });
    const everything = JSON.stringify([list, status, events, t.logs]);
    for (const secret of ["s3cret-pw", "pw-from-callback", "postgres://db.internal", "https://user.internal", token]) {
      expect(everything).not.toContain(secret);
    }
    const history = await t.gql(WorkflowDocument, { id: wf.id }, { token: tokenA });
    expect(history.data!.workflow.events.map((e) => e.sequence)).toEqual(events.map((e) => e.sequence));
  });

  it("answers 401 for unknown, expired and superseded tokens, and 422 for a malformed body", async () => {
    const unknown = await callback({ callback_token: "gcb_nope", status: "success" });
    expect(unknown).toMatchObject({ status: 401, body: { error: { code: "UNAUTHENTICATED", message: "Unknown callback token" } } });

    const bad = await callback({ status: "maybe", metadata: [] });
    expect(bad.status).toBe(422);
    expect(bad.body.detail.map((d: { loc: string[] }) => d.loc.join("."))).toEqual(["body.callback_token", "body.status", "body.metadata"]);

    const expiring = (await t.gql(StartServiceProvisioningDocument, { serviceSlug: "expiring" }, { token: tokenA })).data!.startServiceProvisioning;
    const failed = await eventsUntil(t, expiring.id, isWorkflowEvent("workflow.failed"));
    expect(failed.at(-1)!.payload.workflow.error).toMatch(/^confirm: no callback within 300 ms/);
    const sent = svc.requests.filter((r) => r.path === "/users" && r.body.workflow_id === expiring.id);
    expect(sent).toHaveLength(1);
    const expired = await callback({ callback_token: sent[0]!.body.callback_token, status: "success" });
    expect(expired).toMatchObject({ status: 401, body: { error: { message: "Callback token expired" } } });

    const flaky = (await t.gql(StartServiceProvisioningDocument, { serviceSlug: "flaky-callback" }, { token: tokenA })).data!.startServiceProvisioning;
    const first = await svc.nextRequest("POST /users-flaky", 1);
    const second = await svc.nextRequest("POST /users-flaky", 2);
    expect(second.body.attempt).toBe(2);
    expect(second.headers["idempotency-key"]).toBe(`${flaky.id}:confirm:2`);
    const superseded = await callback({ callback_token: first.body.callback_token, status: "success" });
    expect(superseded).toMatchObject({ status: 401, body: { error: { message: "Callback token belongs to an earlier attempt of the step" } } });
    const done = await callback({ callback_token: second.body.callback_token, status: "failed", error: "quota exceeded" });
    expect(done.body.data).toMatchObject({ status: "FAILED" });
    const events = await eventsUntil(t, flaky.id, isWorkflowEvent("workflow.failed"));
    expect(events.at(-1)!.payload.workflow.error).toBe("confirm: quota exceeded");
  });

  it("keeps tenants apart: NOT_FOUND for another tenant's workflow, unknown services NOT_FOUND", async () => {
    const mine = await t.gql(WorkflowsDocument, {}, { token: tokenA });
    const id = mine.data!.workflows.nodes[0]!.id;
    const foreign = await t.gql(WorkflowDocument, { id }, { token: tokenB });
    expect(foreign.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await t.gql(WorkflowsDocument, {}, { token: tokenB })).data!.workflows.nodes).toEqual([]);
    expect((await t.gql(ProvisioningStatusDocument, { serviceSlug: "full" }, { token: tokenB })).data!.provisioningStatus).toBeNull();
    const unknown = await t.gql(StartServiceProvisioningDocument, { serviceSlug: "nope" }, { token: tokenB });
    expect(unknown.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect((await t.gql(WorkflowDocument, { id: "not-a-uuid" }, { token: tokenA })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });
});
