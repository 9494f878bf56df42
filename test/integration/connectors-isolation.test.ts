import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConnectorDocument,
  ConnectorRunChangedDocument,
  ConnectorRunsDocument,
  ConnectorsDocument,
  DeleteConnectorDocument,
  PauseConnectorDocument,
  ResumeConnectorDocument,
  SetFieldMappingsDocument,
  TriggerConnectorSyncDocument,
} from "../../schema/generated/operations.js";
import { print } from "graphql";
import { decryptSecret } from "../../src/crypto/index.js";
import { configAad, webhookSecretAad } from "../../src/connectors/secrets.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { createTenant, eventually, postReport, register } from "../helpers/connectors.js";

describe("connectors: tenant isolation, secrets and statement counts", () => {
  let t: TestGantry;
  let tokenA: string;
  let tokenB: string;
  const marker = `tap-password-${randomBytes(8).toString("hex")}`;
  let secret: string;
  let connectorId: string;
  let runId: string;
  const responses: string[] = [];

  beforeAll(async () => {
    // A third-party runner is simulated here: no runner role, so the tests post the reports.
    t = await startTestGantry({ env: { GANTRY_ROLES: "api,scheduler,worker" } });
    tokenA = await t.tokenFor(await createTenant(t.db, "tenant-a"));
    tokenB = await t.tokenFor(await createTenant(t.db, "tenant-b"));
    const registered = await register(t, tokenA, { config: { password: marker, host: "db.internal" } });
    secret = registered.webhookSecret;
    connectorId = registered.connector.id;
    await t.gql(TriggerConnectorSyncDocument, { id: connectorId }, { token: tokenA });
    runId = await eventually(async () => (await t.gql(ConnectorRunsDocument, { connectorId }, { token: tokenA })).data?.connectorRuns[0]?.id);
  });
  afterAll(() => t.stop());

  it("answers NOT_FOUND to tenant B for A's connector and runs, in queries and mutations", async () => {
    const asB = { token: tokenB };
    const calls = [
      t.gql(ConnectorDocument, { id: connectorId }, asB),
      t.gql(ConnectorRunsDocument, { connectorId }, asB),
      t.gql(TriggerConnectorSyncDocument, { id: connectorId }, asB),
      t.gql(PauseConnectorDocument, { id: connectorId }, asB),
      t.gql(ResumeConnectorDocument, { id: connectorId }, asB),
      t.gql(SetFieldMappingsDocument, { connectorId, mappings: [] }, asB),
      t.gql(DeleteConnectorDocument, { id: connectorId }, asB),
    ];
    for (const res of await Promise.all(calls)) {
      expect(res.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
      responses.push(JSON.stringify(res));
    }
    expect((await t.gql(ConnectorsDocument, {}, asB)).data!.connectors.edges).toEqual([]);
    // Still there and untouched for A.
    expect((await t.gql(ConnectorDocument, { id: connectorId }, { token: tokenA })).data!.connector.status).toBe("ACTIVE");
  });

  it("answers NOT_FOUND to tenant B's subscription, and streams A's run changes to A", async () => {
    const b = t.wsClient({ authorization: `Bearer ${tokenB}` });
    const refused = await new Promise<unknown>((resolve) => {
      b.subscribe(
        { query: print(ConnectorRunChangedDocument), variables: { connectorId } },
        { next: (v) => resolve(v), error: (e) => resolve(e), complete: () => resolve("complete") },
      );
    });
    expect(JSON.stringify(refused)).toContain("NOT_FOUND");

    const a = t.wsClient({ authorization: `Bearer ${tokenA}` });
    const seen: { type: string; run: { id: string; status: string } }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      a.subscribe(
        { query: print(ConnectorRunChangedDocument), variables: { connectorId, since: 0 } },
        {
          next: (v) => {
            if (v.errors) return reject(new Error(JSON.stringify(v.errors)));
            const event = (v.data as { connectorRunChanged: { type: string; run: { id: string; status: string } } }).connectorRunChanged;
            seen.push(event);
            if (event.run.status === "COMPLETED") resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    const report = await postReport(t.url, secret, { connector_id: connectorId, run_id: runId, status: "success", rows_synced: 3, state: { bookmarks: {} } });
    expect(report.status).toBe(200);
    await done;
    expect(seen.map((e) => e.type)).toEqual(["run.queued", "run.loading", "run.completed"]);
    expect(seen.every((e) => e.run.id === runId)).toBe(true);
  });

  it("keeps the connector list at a constant number of SQL statements", async () => {
    const counting = await startTestGantry({ env: { GANTRY_ROLES: "api" } });
    try {
      const tenantId = await createTenant(counting.db, "counted");
      const token = await counting.tokenFor(tenantId);
      const statementsFor = async () => {
        const original = pg.Client.prototype.query;
        let n = 0;
        pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
          // This file's other server (all roles) polls in the same process: count only statements
          // about this tenant's connectors (every list statement is scoped by its id).
          const config = args[0] as string | { text?: string; values?: unknown[] };
          const text = typeof config === "string" ? config : (config?.text ?? "");
          const values = (typeof config === "string" ? args[1] : (config?.values ?? args[1])) as unknown[] | undefined;
          if (/connector/.test(text) && Array.isArray(values) && values.includes(tenantId)) n++;
          return (original as (...a: unknown[]) => unknown).apply(this, args);
        } as typeof original;
        try {
          const res = await counting.gql(
            `{ connectors(first: 100) { nodes { id lastRun { id status } mappingCount runCount totalRowsLoaded tapState } } }`,
            {},
            { token },
          );
          expect(res.errors).toBeUndefined();
          return { n, count: (res.data as { connectors: { nodes: unknown[] } }).connectors.nodes.length };
        } finally {
          pg.Client.prototype.query = original;
        }
      };
      for (let i = 0; i < 3; i++) await register(counting, token, { destinationTable: `few_${i}` });
      const few = await statementsFor();
      for (let i = 0; i < 40; i++) await register(counting, token, { destinationTable: `many_${i}` });
      const many = await statementsFor();
      expect(few.count).toBe(3);
      expect(many.count).toBe(43);
      expect(many.n).toBe(few.n);
      expect(few.n).toBeGreaterThanOrEqual(2);
      expect(many.n).toBeLessThanOrEqual(4);
    } finally {
      await counting.stop();
    }
  });

  it("never shows the webhook secret or a tap config value in a query, an error or a log line", async () => {
    // Provoke errors and reads that touch the connector.
    await postReport(t.url, `whsec_${randomBytes(32).toString("base64")}`, { connector_id: connectorId, run_id: runId, status: "failed" });
    await postReport(t.url, secret, { connector_id: connectorId, run_id: runId, status: "failed" });
    responses.push(JSON.stringify(await t.gql(ConnectorsDocument, {}, { token: tokenA })));
    responses.push(JSON.stringify(await t.gql(ConnectorDocument, { id: connectorId }, { token: tokenA })));
    responses.push(JSON.stringify(await t.gql(`{ connector(id: "${connectorId}") { config } }`, {}, { token: tokenA })));
    const secretBody = secret.slice("whsec_".length);
    for (const text of [...responses, ...t.logs]) {
      expect(text).not.toContain(secretBody);
      expect(text).not.toContain(marker);
    }
    expect(t.logs.length).toBeGreaterThan(0);

    // At rest: envelopes only, bound to this connector.
    const [row] = await t.db.query(`select config_envelope, webhook_secret_envelope from connector where id = $1`, [connectorId]);
    expect(JSON.stringify(row)).not.toContain(marker);
    expect(JSON.stringify(row)).not.toContain(secretBody);
    const key = t.gantry.services.config.masterKey!;
    expect(JSON.parse(decryptSecret(key, row!.config_envelope, configAad(connectorId))).password).toBe(marker);
    expect(decryptSecret(key, row!.webhook_secret_envelope, webhookSecretAad(connectorId))).toBe(secret);
    expect(() => decryptSecret(key, row!.webhook_secret_envelope, webhookSecretAad(runId))).toThrow();
  });
});
