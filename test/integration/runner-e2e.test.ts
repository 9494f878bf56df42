/**
 * Syncs end to end through the GraphQL API, with every role of a real Gantry: the scheduler
 * queues the run, the runner runs the real tap into staging and posts the signed webhook, the
 * loader job maps with CEL and upserts into the lakehouse table, and the STATE moves only then.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConnectorDocument,
  ConnectorRunsDocument,
  DeleteConnectorDocument,
  SetFieldMappingsDocument,
  TriggerConnectorSyncDocument,
} from "../../schema/generated/operations.js";
import { makeClientEnvelope } from "../../src/connectors/secrets.js";
import { syntheticRow } from "../../src/taps/synthetic.js";
import { createTenant, eventually, register } from "../helpers/connectors.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "taps");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-runner-e2e-"));
const tapsFile = path.join(dir, "taps.json");
fs.writeFileSync(
  tapsFile,
  JSON.stringify({
    taps: {
      "tap-crash": { command: process.execPath, args: [path.join(fixtures, "crash.mjs")] },
      "tap-hang": { command: process.execPath, args: [path.join(fixtures, "hang.mjs")], env: { HANG_IGNORE_TERM: "0" } },
      "tap-malformed": { command: process.execPath, args: [path.join(fixtures, "malformed.mjs")] },
    },
  }),
);

/** A killed process may linger as a zombie when PID 1 does not reap orphans (containers). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("runner and loader end to end", () => {
  let t: TestGantry;
  let token: string;

  beforeAll(async () => {
    t = await startTestGantry({ env: { GANTRY_TAPS: tapsFile, GANTRY_RUNNER_TAP_TIMEOUT_MS: "4000", GANTRY_WORKER_POLL_MS: "500" } });
    token = await t.tokenFor(await createTenant(t.db, "acme"));
  });
  afterAll(async () => {
    await t?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Triggers a sync and waits for that run to finish; returns it. */
  async function sync(connectorId: string) {
    const before = (await t.gql(ConnectorRunsDocument, { connectorId }, { token })).data!.connectorRuns.length;
    const triggered = await t.gql(TriggerConnectorSyncDocument, { id: connectorId }, { token });
    expect(triggered.errors).toBeUndefined();
    return eventually(async () => {
      const runs = (await t.gql(ConnectorRunsDocument, { connectorId }, { token })).data!.connectorRuns;
      return runs.length > before && ["COMPLETED", "FAILED"].includes(runs[0]!.status) && runs[0]!;
    }, 25_000);
  }

  const detail = async (id: string) => (await t.gql(ConnectorDocument, { id }, { token })).data!.connector!;

  it("tap-csv with CEL mappings: good rows load, transformErrors is exact, STATE bookmarks, next sync is incremental, re-register is a full load", async () => {
    const csv = path.join(dir, "orders.csv");
    fs.writeFileSync(csv, "id,name,amount\n1,Ann,10.5\n2,Bob,abc\n3,Cy,7\n4,Di,\n5,Ed,1.25\n");
    const config = { files: [{ path: csv, stream: "orders", key_properties: ["id"], replication_key: "id", types: { id: "integer" } }] };
    const mappings = [
      { stream: "orders", sourceField: "id", destinationColumn: "id", isKey: true, dataType: "bigint" },
      { stream: "orders", sourceField: "name", destinationColumn: "customer", transform: 'row.name + "!"' },
      { stream: "orders", sourceField: "amount", destinationColumn: "amount_cents", transform: "double(row.amount) * 100" },
    ];
    const setUp = async () => {
      const { connector } = await register(t, token, { sourceSystem: "shop", tapName: "tap-csv", destinationTable: "orders", config });
      const set = await t.gql(SetFieldMappingsDocument, { connectorId: connector.id, mappings }, { token });
      expect(set.errors).toBeUndefined();
      return connector.id;
    };
    const table = () => t.db.query(`select id::int, customer, amount_cents from gantry_tenant_acme.orders order by id`);

    const id = await setUp();
    const first = await sync(id);
    expect(first).toMatchObject({ status: "COMPLETED", rowsSynced: 5, rowsLoaded: 3, transformErrors: 2, errorMsg: null, lakehouseTable: "gantry_tenant_acme.orders" });
    expect(await table()).toEqual([
      { id: 1, customer: "Ann!", amount_cents: 1050 },
      { id: 3, customer: "Cy!", amount_cents: 700 },
      { id: 5, customer: "Ed!", amount_cents: 125 },
    ]);
    expect((await detail(id)).tapState).toEqual({ bookmarks: { orders: { replication_key: "id", replication_key_value: 5 } } });
    // Staging is cleared once the rows are loaded.
    expect(await t.db.query(`select count(*)::int as n from gantry_staging_acme_shop.orders`)).toEqual([{ n: 0 }]);

    fs.appendFileSync(csv, "6,Fay,2\n7,Gus,3\n");
    const second = await sync(id);
    expect(second).toMatchObject({ status: "COMPLETED", rowsSynced: 2, rowsLoaded: 2, transformErrors: 0 });
    expect((await table()).map((r) => r.id)).toEqual([1, 3, 5, 6, 7]);
    expect((await detail(id)).tapState).toEqual({ bookmarks: { orders: { replication_key: "id", replication_key_value: 7 } } });

    // Deleting drops the state: a re-registered connector starts over with a full load.
    expect((await t.gql(DeleteConnectorDocument, { id }, { token })).data!.deleteConnector.deleted).toBe(true);
    const again = await setUp();
    expect((await detail(again)).tapState).toBeNull();
    const full = await sync(again);
    expect(full).toMatchObject({ status: "COMPLETED", rowsSynced: 7, rowsLoaded: 5, transformErrors: 2 });
    expect((await table()).map((r) => r.id)).toEqual([1, 3, 5, 6, 7]);
  });

  it("tap-synthetic without mappings loads every field as-is, typed from its SCHEMA; a client-sealed config works and never reaches a log", async () => {
    const marker = `secret-${Date.now()}-marker`;
    const configEncrypted = makeClientEnvelope(t.gantry.services.config.masterKey!, { rows: 2500, api_password: marker });
    const { connector } = await register(t, token, { sourceSystem: "synth", tapName: "tap-synthetic", destinationTable: "synthetic", configEncrypted });
    const run = await sync(connector.id);
    expect(run).toMatchObject({ status: "COMPLETED", rowsSynced: 2500, rowsLoaded: 2500, transformErrors: 0 });
    expect(t.logs.some((line) => line.includes("sync staged"))).toBe(true);
    expect(t.logs.filter((line) => line.includes(marker))).toEqual([]);
    const [row] = await t.db.query(`select id, name, amount, created_at from gantry_tenant_acme.synthetic where id = 2500`);
    const expected = syntheticRow(2500);
    expect({ ...row, id: Number(row.id), created_at: row.created_at.toISOString() }).toEqual(expected);
    const types = await t.db.query(
      `select column_name, data_type from information_schema.columns where table_schema = 'gantry_tenant_acme' and table_name = 'synthetic' order by ordinal_position`,
    );
    expect(types.map((c) => `${c.column_name} ${c.data_type}`)).toEqual(["id bigint", "name text", "amount double precision", "created_at timestamp with time zone"]);
  });

  it("a tap that crashes mid-stream fails the run with its stderr, moves no state, and three such runs open the breaker", async () => {
    const { connector } = await register(t, token, { sourceSystem: "crashy", tapName: "tap-crash", destinationTable: "crashed" });
    for (let i = 1; i <= 3; i++) {
      const run = await sync(connector.id);
      expect(run.status).toBe("FAILED");
      expect(run.errorMsg).toMatch(/^tap-crash exited with code 3; stderr:/);
      expect(run.errorMsg).toContain("fatal: connection reset by peer (source went away)");
      expect((await detail(connector.id)).tapState).toBeNull();
    }
    expect(await detail(connector.id)).toMatchObject({ status: "ERROR", consecutiveFailures: 3, nextRunAt: null });
    expect(await t.db.query(`select to_regclass('gantry_tenant_acme.crashed') as t`)).toEqual([{ t: null }]);
    expect(await t.db.query(`select count(*)::int as n from gantry_staging_acme_crashy.items`)).toEqual([{ n: 0 }]);
  });

  it("a hanging tap is killed at the timeout, and a malformed line fails the run loading nothing", async () => {
    const { connector: hang } = await register(t, token, { sourceSystem: "hangs", tapName: "tap-hang", destinationTable: "hung" });
    const hung = await sync(hang.id);
    expect(hung.status).toBe("FAILED");
    expect(hung.errorMsg).toMatch(/^tap-hang timed out after 4 s and was killed/);
    const childPid = Number(/child pid (\d+)/.exec(hung.errorMsg!)![1]);
    expect(alive(childPid)).toBe(false);

    const { connector: bad } = await register(t, token, { sourceSystem: "broken", tapName: "tap-malformed", destinationTable: "broken" });
    const broken = await sync(bad.id);
    expect(broken.status).toBe("FAILED");
    expect(broken.errorMsg).toMatch(/^tap-malformed: Singer protocol error on line 252 of the tap's output: not valid JSON/);
    expect(await t.db.query(`select to_regclass('gantry_tenant_acme.broken') as t`)).toEqual([{ t: null }]);
    expect(await t.db.query(`select count(*)::int as n from gantry_staging_acme_broken.items`)).toEqual([{ n: 0 }]);
  });
});
