/**
 * The loader's SQL against a real database: staged rows (written by the real staging writer)
 * into a destination table, through the SQL fast path and the row-by-row CEL path.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStagedRun } from "../../src/runner/load.js";
import type { MappingSpec } from "../../src/runner/load-plan.js";
import type { JsonSchema } from "../../src/runner/singer.js";
import { ensureStagingSchema, StagingWriter } from "../../src/runner/staging.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const STAGING = "gantry_staging_acme_load";
const NS = "gantry_tenant_acme";
let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await ensureStagingSchema(client, STAGING);
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

async function stage(records: Array<Record<string, unknown>>, schema: Record<string, JsonSchema> = { id: { type: "integer" }, amount: { type: ["number", "null"] } }): Promise<string> {
  const runId = randomUUID();
  const writer = new StagingWriter(client, { schema: STAGING, runId, batchRows: 3 });
  await writer.schema({ type: "SCHEMA", stream: "items", schema: { type: "object", properties: schema }, key_properties: ["id"] });
  for (const record of records) await writer.record({ type: "RECORD", stream: "items", record });
  await writer.finish();
  return runId;
}

const load = (runId: string, table: string, mappings: MappingSpec[] = [], pageRows = 4) =>
  loadStagedRun(client, { stagingSchema: STAGING, runId, namespace: NS, table, mappings, pageRows });
const rows = async (table: string) => (await client.query(`select * from ${NS}.${table} order by id`)).rows;

describe("loadStagedRun", () => {
  it("inserts into a new table, upserts on the key next time, and lets the last record of a key win", async () => {
    const first = await load(await stage([{ id: 1, amount: 1 }, { id: 2, amount: 2 }, { id: 3, amount: 3 }]), "plain");
    expect(first).toEqual({ rowsLoaded: 3, transformErrors: 0, sampleErrors: [] });
    // Page 1 repeats key 1 (DISTINCT ON), page 2 updates key 3 and adds key 9.
    const second = await load(await stage([{ id: 1, amount: 10 }, { id: 4, amount: 4 }, { id: 1, amount: 11 }, { id: 2, amount: 20 }, { id: 3, amount: 30 }, { id: 9, amount: null }]), "plain");
    expect(second.rowsLoaded).toBe(6);
    expect(await rows("plain")).toEqual([
      { id: "1", amount: 11 },
      { id: "2", amount: 20 },
      { id: "3", amount: 30 },
      { id: "4", amount: 4 },
      { id: "9", amount: null },
    ]);
  });

  it("counts values the column refuses exactly, loading the rest of their page", async () => {
    const runId = await stage([{ id: 1, amount: "1.5" }, { id: 2, amount: "abc" }, { id: 3, amount: 3 }, { id: null, amount: 4 }, { id: 5, amount: "" }, { id: 6, amount: 6 }], { id: { type: "integer" }, amount: {} });
    const mappings: MappingSpec[] = [
      { stream: "items", sourceField: "id", destinationColumn: "id", transform: null, dataType: "bigint", isKey: true },
      { stream: "items", sourceField: "amount", destinationColumn: "amount", transform: null, dataType: "numeric(10,2)", isKey: false },
    ];
    const result = await load(runId, "refused", mappings);
    expect(result.rowsLoaded).toBe(3);
    expect(result.transformErrors).toBe(3);
    expect((await rows("refused")).map((r) => [r.id, r.amount])).toEqual([["1", "1.50"], ["3", "3.00"], ["6", "6.00"]]);
  });

  it("evaluates CEL transforms once compiled, counting the rows whose transform fails", async () => {
    const runId = await stage([{ id: 1, amount: 2 }, { id: 2, amount: "x" }, { id: 1, amount: 5 }, { id: 3 }]);
    const mappings: MappingSpec[] = [
      { stream: "items", sourceField: "id", destinationColumn: "id", transform: null, dataType: null, isKey: true },
      { stream: "items", sourceField: "amount", destinationColumn: "cents", transform: "row.amount * 100", dataType: null, isKey: false },
      { stream: "items", sourceField: "id", destinationColumn: "label", transform: '"item-" + string(int(row.id))', dataType: null, isKey: false },
    ];
    const result = await load(runId, "mapped", mappings);
    expect(result).toMatchObject({ rowsLoaded: 2, transformErrors: 2 });
    expect(await rows("mapped")).toEqual([{ id: "1", cents: 500, label: "item-1" }]);
    const types = await client.query(`select column_name, data_type from information_schema.columns where table_schema = $1 and table_name = 'mapped' order by ordinal_position`, [NS]);
    expect(types.rows.map((c) => `${c.column_name} ${c.data_type}`)).toEqual(["id bigint", "cents double precision", "label text"]);
  });

  it("refuses a data type it does not know rather than putting it into DDL", async () => {
    const runId = await stage([{ id: 1 }]);
    const mappings: MappingSpec[] = [{ stream: "items", sourceField: "id", destinationColumn: "id", transform: null, dataType: "text check (false)", isKey: true }];
    await expect(load(runId, "bad_type", mappings)).rejects.toThrow(/data type "text check \(false\)" is not supported/);
  });
});
