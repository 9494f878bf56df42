/**
 * Secret scan end to end (issue 8, part 4): every secret-bearing path is exercised, on its
 * happy path and on error paths fed bad input that contains the secret, and then every response
 * (HTTP, REST, graphql-ws) and every log line is searched for every secret. The only response
 * allowed to hold a secret is the one that reveals it once (registerConnector's webhook secret,
 * tenantCredentials' API key).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { print } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConnectorDocument,
  CreateTenantDocument,
  ProvisioningStatusDocument,
  RegisterConnectorDocument,
  StartServiceProvisioningDocument,
  TenantCredentialsDocument,
  WorkflowDocument,
  WorkflowStepChangedDocument,
} from "../../schema/generated/operations.js";
import { createTenant, postReport } from "../helpers/connectors.js";
import { eventsUntil, isWorkflowEvent } from "../helpers/engine.js";
import { recordReliability } from "../helpers/reliability.js";
import { noteSecret, notedSecrets, scanForSecrets } from "../helpers/secrets.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { startTestService, writeCatalogue, type TestService } from "../helpers/test-service.js";

describe("secret scan: no secret in any response, error or log line", () => {
  let svc: TestService;
  let t: TestGantry;
  const serviceSecret = `svc-db-password-${randomBytes(12).toString("hex")}`;
  const callbackSecret = `svc-callback-password-${randomBytes(12).toString("hex")}`;
  const tapSecret = `tap-password-${randomBytes(12).toString("hex")}`;
  const rest: string[] = [];
  const allowed = new Set<string>();

  const post = async (path: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) => {
    const res = await fetch(`${t.url}${path}`, { method: "POST", headers, body });
    const text = await res.text();
    rest.push(text);
    return { status: res.status, text };
  };

  beforeAll(async () => {
    svc = await startTestService({
      "POST /db": () => ({ body: { endpoint: `postgres://admin:${serviceSecret}@db.internal/x`, credentials: { password: serviceSecret } } }),
      "POST /cb": () => ({ status: 202, body: {} }),
    });
    const file = await writeCatalogue([
      {
        slug: "secretive",
        name: "Secretive",
        steps: [
          { name: "create_db", kind: "action", url: `${svc.url}/db` },
          { name: "confirm", kind: "callback", url: `${svc.url}/cb`, timeoutMs: 60_000 },
        ],
      },
    ]);
    t = await startTestGantry({ env: { GANTRY_SERVICES: file } });
    for (const [value, label] of [
      [t.adminKey, "admin key"],
      [t.jwtSecret, "JWT secret"],
      [t.gantry.services.config.masterKey!.toString("base64"), "master key"],
      [serviceSecret, "service credential"],
      [callbackSecret, "service credential (callback)"],
      [tapSecret, "tap config value"],
    ] as const) {
      noteSecret(value, label);
    }
  });
  afterAll(async () => {
    await t.stop();
    await svc.close();
  });

  it("exercises every secret-bearing path, then finds none of the secrets outside its one reveal", async () => {
    // Admin key and JWT: good and bad credentials (the bad ones contain the good ones).
    await t.gql(`{ viewer { kind } }`, {}, { apiKey: `${t.adminKey}x` });
    await t.gql(`{ viewer { kind } }`, {}, { token: `${t.jwtSecret}` });

    // A tenant provisioned by its real pipeline; its API key revealed once, then used and misused.
    const created = await t.gql(CreateTenantDocument, { input: { slug: "secretive", name: "Secretive" } }, t.admin);
    const tenantId = created.data!.createTenant.id;
    const [wf] = await t.db.query<{ id: string }>(`select id from workflow where tenant_id = $1`, [tenantId]);
    await eventsUntil(t, wf!.id, isWorkflowEvent("workflow.completed"), 60_000);
    const credentials = await t.gql(TenantCredentialsDocument, { slug: "secretive" }, t.admin);
    allowed.add(t.responses.at(-1)!);
    const apiKey = credentials.data!.tenantCredentials.apiKey;
    noteSecret(apiKey, "tenant API key");
    const token = await t.tokenFor(tenantId);
    noteSecret(token, "tenant JWT");
    await t.gql(`{ viewer { kind tenantId } }`, {}, { apiKey });
    await t.gql(`{ viewer { kind } }`, {}, { apiKey: `${apiKey}0` });
    await t.gql(`{ viewer { kind } }`, {}, { token: `${token}0` });
    await post("/v1/admin/tenants", JSON.stringify({ slug: "x", name: "y" }), { "content-type": "application/json", "x-api-key": `${apiKey}0` });
    await post("/v1/admin/tenants", JSON.stringify({ slug: "x", name: "y" }), { "content-type": "application/json", authorization: `Bearer ${token}x` });

    // Connector: tap config and webhook secret (revealed once); bad input carrying the config.
    const registered = await t.gql(
      RegisterConnectorDocument,
      { input: { sourceSystem: "shop", tapName: "tap-synthetic", destinationTable: "orders", config: { rows: 0, password: tapSecret } } },
      { token },
    );
    allowed.add(t.responses.at(-1)!);
    const { webhookSecret, connector } = registered.data!.registerConnector;
    noteSecret(webhookSecret, "webhook secret");
    const badInputs = [
      { sourceSystem: "shop", tapName: "tap-synthetic", destinationTable: "orders; drop", config: { password: tapSecret } },
      { sourceSystem: "shop", tapName: "tap-synthetic", destinationTable: "orders2", config: { password: tapSecret }, configEncrypted: tapSecret },
      { sourceSystem: "shop", tapName: "tap-synthetic", destinationTable: "orders3", configEncrypted: `gcfg_${tapSecret}` },
      { sourceSystem: "shop", tapName: "tap-synthetic", destinationTable: "orders4", config: tapSecret },
      { sourceSystem: tapSecret, tapName: 42, destinationTable: "orders5", config: { password: tapSecret, nested: [tapSecret] } },
      { sourceSystem: "shop", tapName: "tap-synthetic", destinationTable: "orders6", config: { password: tapSecret, pad: "x".repeat(70_000) } },
    ];
    for (const input of badInputs) await t.gql(print(RegisterConnectorDocument), { input }, { token });
    // The same wrong shapes written inline in the document, and over graphql-ws.
    await t.gql(`mutation { registerConnector(input: { sourceSystem: "s", tapName: "t", destinationTable: "d", config: "${tapSecret}" }) { webhookSecret } }`, {}, { token });
    await t.gql(`mutation { registerConnector(input: { sourceSystem: "s", tapName: "t", destinationTable: "d", config: { password: "${tapSecret}" }, syncSchedule: 5 }) { webhookSecret } }`, {}, { token });
    await t.gql(ConnectorDocument, { id: connector.id }, { token });
    await t.gql(`{ connector(id: "${connector.id}") { config } }`, {}, { token });
    await t.gql(`{ connectors { nodes { id tapState } } }`, {}, { token });

    // Webhook: honest, wrong secret, the secret itself in bad places.
    const runId = randomUUID();
    await t.db.query(`insert into connector_run (id, tenant_id, connector_id, status, trigger) values ($1, $2, $3, 'QUEUED', 'MANUAL')`, [runId, tenantId, connector.id]);
    rest.push(JSON.stringify(await postReport(t.url, `whsec_${randomBytes(24).toString("base64")}`, { connector_id: connector.id, run_id: runId, status: "success" })));
    rest.push(JSON.stringify(await postReport(t.url, webhookSecret, `{"connector_id":"${connector.id}","run_id":"${webhookSecret}"}`)));
    rest.push(JSON.stringify(await postReport(t.url, webhookSecret, `{"connector_id":"${connector.id}", "broken": "${webhookSecret}`)));
    await post("/v1/etl/meltano/webhook", JSON.stringify({ connector_id: connector.id }), {
      "content-type": "application/json",
      "webhook-id": `msg_${randomUUID()}`,
      "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
      "webhook-signature": `v1,${webhookSecret}`,
    });
    rest.push(JSON.stringify(await postReport(t.url, webhookSecret, { connector_id: connector.id, run_id: runId, status: "failed", error_msg: "tap exited 1" })));

    // Service provisioning: credentials from an action answer and from a callback, the callback token.
    const ws = t.wsClient({ authorization: `Bearer ${token}` });
    const started = (await t.gql(StartServiceProvisioningDocument, { serviceSlug: "secretive" }, { token })).data!.startServiceProvisioning;
    const live: unknown[] = [];
    const finished = new Promise<void>((resolve, reject) => {
      ws.subscribe(
        { query: print(WorkflowStepChangedDocument), variables: { workflowId: started.id, since: 0 } },
        {
          next: (v) => {
            live.push(v);
            if ((v.data as { workflowStepChanged?: { type: string } } | undefined)?.workflowStepChanged?.type === "workflow.completed") resolve();
          },
          error: reject,
          complete: () => resolve(),
        },
      );
    });
    const request = await svc.nextRequest("POST /cb");
    const callbackToken = request.body.callback_token as string;
    noteSecret(callbackToken, "callback token");
    await post("/api/v1/provisioning/callback", `{"callback_token": "${callbackToken}", "status": `);
    await post("/api/v1/provisioning/callback", `{"callback_token": "${callbackToken}", status: "success"}`);
    await post("/graphql", `{"query": "{ viewer { kind } }", "variables": {"password": "${tapSecret}", oops}}`);
    await post("/v1/admin/tenants", `{"slug": "${t.adminKey}", name}`, { "content-type": "application/json", "x-api-key": t.adminKey });
    await post("/api/v1/provisioning/callback", JSON.stringify({ callback_token: callbackToken, status: "maybe", credentials: [callbackSecret] }));
    await post("/api/v1/provisioning/callback", JSON.stringify({ callback_token: `${callbackToken}x`, status: "success", credentials: { password: callbackSecret } }));
    await post("/api/v1/provisioning/callback", JSON.stringify({ callback_token: callbackToken, status: "success", endpoint: `https://u:${callbackSecret}@svc`, credentials: { password: callbackSecret } }));
    await post("/api/v1/provisioning/callback", JSON.stringify({ callback_token: callbackToken, status: "success", credentials: { password: callbackSecret } }));
    await eventsUntil(t, started.id, isWorkflowEvent("workflow.completed"));
    await finished;
    await t.gql(ProvisioningStatusDocument, { serviceSlug: "secretive" }, { token });
    await t.gql(WorkflowDocument, { id: started.id }, t.admin);
    await t.gql(`{ adminWorkflows(first: 100) { nodes { id steps { output error } events { detail } } } }`, {}, t.admin);

    // A malformed body is refused without quoting it (V8's JSON.parse message quotes a slice).
    const quoted = await post("/api/v1/provisioning/callback", `x${callbackToken}`);
    expect(quoted.status).toBe(400);
    expect(quoted.text).not.toContain(callbackToken.slice(0, 8));
    const responses = [...t.responses, ...rest, ...live.map((v) => JSON.stringify(v))];
    const leaks = [...scanForSecrets("responses", responses, allowed), ...scanForSecrets("log", t.logs)];
    // The reveals did reveal (so the scan is not vacuous).
    expect(scanForSecrets("reveals", [...allowed]).map((l) => l.label).sort()).toEqual(expect.arrayContaining(["tenant API key", "webhook secret"]));
    recordReliability("secret-scan", "npm run fuzz", [
      { figure: "secrets planted (admin key, JWT secret, master key, tenant API key and JWT, tap config, webhook secret, service credentials ×2, callback token)", value: notedSecrets() },
      { figure: "responses scanned", value: responses.length },
      { figure: "log lines scanned", value: t.logs.length },
      { figure: "leaks", value: leaks.length, target: "0", ok: leaks.length === 0 },
    ]);
    expect(leaks).toEqual([]);
  }, 120_000);
});
