import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConnectorDocument,
  ConnectorRunsDocument,
  ConnectorsDocument,
  DeleteConnectorDocument,
  PauseConnectorDocument,
  ResumeConnectorDocument,
  SetFieldMappingsDocument,
  TriggerConnectorSyncDocument,
} from "../../schema/generated/operations.js";
import { nextRunAfter } from "../../src/connectors/schedule.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { createTenant, eventually, postReport, register } from "../helpers/connectors.js";

describe("connectors: the seed flow through GraphQL", () => {
  let t: TestGantry;
  let token: string;

  beforeAll(async () => {
    // A third-party runner is simulated here: no runner role, so the tests post the reports.
    t = await startTestGantry({ env: { GANTRY_ROLES: "api,scheduler,worker" } });
    const tenantId = await createTenant(t.db, "acme-corp");
    token = await t.tokenFor(tenantId);
  });
  afterAll(() => t.stop());

  it("registers, lists, details, triggers, runs, pauses, resumes and deletes", async () => {
    const before = Date.now();
    const registered = await register(t, token, { syncSchedule: "0 2 * * *", config: { api_key: "sk-live-xyz" } });
    expect(registered.webhookSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(registered.webhookSecret.slice(6), "base64").length).toBeGreaterThanOrEqual(24);
    expect(registered.webhookUrl).toBe(`${t.url}/v1/etl/meltano/webhook`);
    const c = registered.connector;
    expect(c).toMatchObject({
      sourceSystem: "salesforce",
      connectorType: "MELTANO",
      destinationCatalog: "lakehouse",
      lakehouseNamespace: "gantry_tenant_acme_corp",
      syncSchedule: "0 2 * * *",
      meltanoEnvironment: "prod",
      status: "ACTIVE",
      hasConfig: true,
      consecutiveFailures: 0,
    });
    const next = new Date(c.nextRunAt!).getTime();
    expect(next).toBeGreaterThanOrEqual(before);
    expect(next).toBeLessThanOrEqual(Date.now() + 5 * 60_000);

    const list = await t.gql(ConnectorsDocument, {}, { token });
    expect(list.data!.connectors.edges.map((e) => e.node.id)).toEqual([c.id]);
    expect(list.data!.connectors.edges[0]!.node.lastRun).toBeNull();

    const mapped = await t.gql(
      SetFieldMappingsDocument,
      {
        connectorId: c.id,
        mappings: [
          { stream: "accounts", sourceField: "id", destinationColumn: "id", isKey: true },
          { stream: "accounts", sourceField: "amount", destinationColumn: "amount_cents", transform: "row.amount * 100" },
        ],
      },
      { token },
    );
    expect(mapped.errors).toBeUndefined();

    const detail = await t.gql(ConnectorDocument, { id: c.id }, { token });
    expect(detail.data!.connector).toMatchObject({ mappingCount: 2, runCount: 0, totalRowsLoaded: 0, tapState: null });

    const triggered = await t.gql(TriggerConnectorSyncDocument, { id: c.id }, { token });
    expect(triggered.data!.triggerConnectorSync.status).toBe("queued");
    expect(triggered.data!.triggerConnectorSync.message).toMatch(/queued/i);
    const run = await eventually(async () => (await t.gql(ConnectorRunsDocument, { connectorId: c.id }, { token })).data!.connectorRuns[0]);
    expect(run).toMatchObject({ status: "QUEUED", trigger: "MANUAL", lakehouseTable: "gantry_tenant_acme_corp.accounts" });

    const report = await postReport(t.url, registered.webhookSecret, {
      connector_id: c.id,
      run_id: run.id,
      status: "success",
      rows_synced: 42,
      state: { bookmarks: { accounts: { updated_at: "2026-11-23T00:00:00Z" } } },
    });
    expect(report.status).toBe(200);
    // The run is LOADING until the loader's job has run (this runner staged nothing: 0 rows load).
    expect(report.body).toMatchObject({ data: { run_id: run.id, status: "LOADING" }, meta: { request_id: expect.any(String) } });

    const after = await eventually(async () => {
      const connector = (await t.gql(ConnectorDocument, { id: c.id }, { token })).data!.connector;
      return connector.lastRun?.status === "COMPLETED" && connector;
    });
    expect(after).toMatchObject({
      runCount: 1,
      totalRowsLoaded: 0,
      rowsTotal: 0,
      tapState: { bookmarks: { accounts: { updated_at: "2026-11-23T00:00:00Z" } } },
      lastRun: { id: run.id, status: "COMPLETED", rowsSynced: 42, rowsLoaded: 0 },
    });
    expect(after.lastSyncedAt).not.toBeNull();
    const runs = (await t.gql(ConnectorRunsDocument, { connectorId: c.id, limit: 10 }, { token })).data!.connectorRuns;
    expect(runs[0]!.durationS).toBeGreaterThanOrEqual(0);

    const paused = await t.gql(PauseConnectorDocument, { id: c.id }, { token });
    expect(paused.data!.pauseConnector).toMatchObject({ status: "PAUSED", nextRunAt: null });
    const refused = await t.gql(TriggerConnectorSyncDocument, { id: c.id }, { token });
    expect(refused.errors?.[0]?.extensions?.code).toBe("CONFLICT");

    const resumed = (await t.gql(ResumeConnectorDocument, { id: c.id }, { token })).data!.resumeConnector;
    expect(resumed.status).toBe("ACTIVE");
    const expected = nextRunAfter("0 2 * * *", new Date(Date.now() - 5_000))!;
    expect(new Date(resumed.nextRunAt!).toISOString()).toBe(expected.toISOString());

    const deleted = await t.gql(DeleteConnectorDocument, { id: c.id }, { token });
    expect(deleted.data!.deleteConnector).toEqual({ id: c.id, deleted: true });
    for (const table of ["connector", "connector_run", "connector_field_mapping", "connector_tap_state", "connector_webhook_delivery"]) {
      const column = table === "connector" ? "id" : "connector_id";
      expect(await t.db.query(`select 1 from ${table} where ${column} = $1`, [c.id]), table).toEqual([]);
    }
    expect((await t.gql(ConnectorDocument, { id: c.id }, { token })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("validates registration input and names the field at fault", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ syncSchedule: "not a cron" }, "input.syncSchedule"],
      [{ syncSchedule: "* * * * * *" }, "input.syncSchedule"],
      [{ destinationTable: "accounts; drop table tenant" }, "input.destinationTable"],
      [{ sourceSystem: "Sales Force" }, "input.sourceSystem"],
      [{ destinationCatalog: "elsewhere" }, "input.destinationCatalog"],
      [{ configEncrypted: "gcm1.nope" }, "input.configEncrypted"],
    ];
    const inactive = await t.tokenFor(await createTenant(t.db, "dormant", "INACTIVE"));
    const refused = await t.gql(
      "mutation($input: RegisterConnectorInput!) { registerConnector(input: $input) { webhookSecret } }",
      { input: { sourceSystem: "salesforce", tapName: "tap-salesforce", destinationTable: "accounts" } },
      { token: inactive },
    );
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.destinationCatalog" });
    for (const [input, field] of cases) {
      const res = await t
        .gql(
          "mutation($input: RegisterConnectorInput!) { registerConnector(input: $input) { webhookSecret } }",
          { input: { sourceSystem: "salesforce", tapName: "tap-salesforce", destinationTable: "accounts", ...input } },
          { token },
        );
      expect(res.errors?.[0]?.extensions, JSON.stringify(input)).toMatchObject({ code: "BAD_USER_INPUT", field });
    }
  });

  it("refuses a bad transform naming the mapping, and keeps the old set", async () => {
    const { connector } = await register(t, token, { destinationTable: "mapped" });
    const res = await t.gql(
      SetFieldMappingsDocument,
      {
        connectorId: connector.id,
        mappings: [
          { stream: "s", sourceField: "a", destinationColumn: "a" },
          { stream: "s", sourceField: "b", destinationColumn: "b", transform: "row.b +" },
        ],
      },
      { token },
    );
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "mappings.1.transform" });
    expect(res.errors?.[0]?.message).toMatch(/mapping 1 \(b\)/);
    expect((await t.gql(ConnectorDocument, { id: connector.id }, { token })).data!.connector.mappingCount).toBe(0);
  });

  it("answers connectorRuns limit above 200 with BAD_USER_INPUT naming limit", async () => {
    const { connector } = await register(t, token, { destinationTable: "limits" });
    const res = await t.gql(ConnectorRunsDocument, { connectorId: connector.id, limit: 201 }, { token });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "limit" });
    const ok = await t.gql(ConnectorRunsDocument, { connectorId: connector.id, limit: 200 }, { token });
    expect(ok.data!.connectorRuns).toEqual([]);
  });

  it("pages the connector list newest first with opaque cursors", async () => {
    const other = await t.tokenFor(await createTenant(t.db, "pager"));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await register(t, other, { destinationTable: `page_${i}` })).connector.id);
    const seen: string[] = [];
    let after: string | null | undefined;
    for (;;) {
      const page = (await t.gql(ConnectorsDocument, { first: 2, after }, { token: other })).data!.connectors;
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());
  });
});
