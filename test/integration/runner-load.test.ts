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
let second: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  second = new pg.Client({ connectionString: db.url });
  await second.connect();
  await ensureStagingSchema(client, STAGING);
});
afterAll(async () => {
  await client?.end();
  await second?.end();
  await db?.drop();
});

async function stage(records: Array<Record<string, unknown>>, schema: Record<string, JsonSchema> = { id: { type: "integer" }, amount: { type: ["number", "null"] } }, keys = ["id"]): Promise<string> {
  const runId = randomUUID();
  const writer = new StagingWriter(client, { schema: STAGING, runId, batchRows: 3 });
  await writer.schema({ type: "SCHEMA", stream: "items", schema: { type: "object", properties: schema }, key_properties: keys });
  for (const record of records) await writer.record({ type: "RECORD", stream: "items", record });
  await writer.finish();
  return runId;
}

const load = (runId: string, table: string, mappings: MappingSpec[] = [], pageRows = 4) =>
  loadStagedRun(client, { stagingSchema: STAGING, runId, namespace: NS, table, mappings, pageRows });
/** With a second connection: pages go in by parallel INSERTs while the table is empty. */
const loadParallel = (runId: string, table: string, mappings: MappingSpec[] = [], pageRows = 2) =>
  loadStagedRun(client, { stagingSchema: STAGING, runId, namespace: NS, table, mappings, pageRows, writers: [second] });
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

  it("loads an empty table on two connections, and still lets the last record of a key win across pages", async () => {
    const unique = await loadParallel(await stage(Array.from({ length: 11 }, (_, i) => ({ id: i + 1, amount: i }))), "parallel_unique");
    expect(unique).toEqual({ rowsLoaded: 11, transformErrors: 0, sampleErrors: [] });
    expect((await rows("parallel_unique")).map((r) => r.amount)).toEqual(Array.from({ length: 11 }, (_, i) => i));
    // Key 1 in pages 1, 3 and 5 (pages of 2): whichever page the parallel INSERTs load first,
    // the pages from the first refused one on are upserted again in order.
    const records = [{ id: 1, amount: 1 }, { id: 2, amount: 2 }, { id: 3, amount: 3 }, { id: 4, amount: 4 }, { id: 1, amount: 10 }, { id: 5, amount: 5 }, { id: 6, amount: 6 }, { id: 7, amount: 7 }, { id: 8, amount: 8 }, { id: 1, amount: 100 }, { id: 9, amount: 9 }];
    const repeated = await loadParallel(await stage(records), "parallel_repeated");
    expect(repeated).toEqual({ rowsLoaded: 11, transformErrors: 0, sampleErrors: [] });
    expect((await rows("parallel_repeated")).map((r) => [r.id, r.amount])).toEqual([["1", 100], ["2", 2], ["3", 3], ["4", 4], ["5", 5], ["6", 6], ["7", 7], ["8", 8], ["9", 9]]);
  });

  it("counts refused values exactly on two connections, with and without a key, and never appends a page twice", async () => {
    const records = [{ id: 1, amount: 1 }, { id: 2, amount: 2 }, { id: 3, amount: "abc" }, { id: 4, amount: 4 }, { id: 5, amount: 5 }, { id: 6, amount: 6 }, { id: 7, amount: "x" }, { id: 8, amount: 8 }];
    for (const [table, keys] of [["parallel_refused", ["id"]], ["parallel_append", []]] as const) {
      const result = await loadParallel(await stage(records, { id: { type: "integer" }, amount: { type: "number" } }, [...keys]), table);
      expect(result).toMatchObject({ rowsLoaded: 6, transformErrors: 2 });
      expect((await rows(table)).map((r) => Number(r.id))).toEqual([1, 2, 4, 5, 6, 8]);
    }
  });

  it("refuses a data type it does not know rather than putting it into DDL", async () => {
    const runId = await stage([{ id: 1 }]);
    const mappings: MappingSpec[] = [{ stream: "items", sourceField: "id", destinationColumn: "id", transform: null, dataType: "text check (false)", isKey: true }];
    await expect(load(runId, "bad_type", mappings)).rejects.toThrow(/data type "text check \(false\)" is not supported/);
  });
});
