/**
 * The bundled taps run alone, as an operator would run them from a shell: real processes, real
 * files, a real PostgreSQL for tap-postgres. Their output must be valid Singer.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundledTapPath } from "../../src/runner/tap-registry.js";
import { readSingerMessages, type RecordMessage, type SingerMessage } from "../../src/runner/singer.js";
import { syntheticRow } from "../../src/taps/synthetic.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-taps-test-"));
let n = 0;
function file(content: unknown): string {
  const p = path.join(dir, `f${++n}.json`);
  fs.writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

interface TapOutput {
  code: number | null;
  messages: SingerMessage[];
  stdout: string;
  stderr: string;
}

async function runTap(name: "tap-csv" | "tap-postgres" | "tap-synthetic", args: string[]): Promise<TapOutput> {
  const child = spawn(process.execPath, [bundledTapPath(name), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const messages: SingerMessage[] = [];
  if (code === 0 && !args.includes("--discover")) {
    for await (const m of readSingerMessages(Readable.from([Buffer.from(stdout)]))) messages.push(m);
  }
  return { code, messages, stdout, stderr };
}

const records = (out: TapOutput, stream?: string) =>
  out.messages.filter((m): m is RecordMessage => m.type === "RECORD" && (!stream || m.stream === stream)).map((m) => m.record);
const lastState = (out: TapOutput) => out.messages.filter((m) => m.type === "STATE").at(-1) as { value: unknown } | undefined;

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("tap-synthetic", () => {
  it("emits N deterministic rows, SCHEMA first, STATE periodically and at the end", async () => {
    const out = await runTap("tap-synthetic", ["--config", file({ rows: 25_000 })]);
    expect(out.code).toBe(0);
    expect(out.messages[0]).toMatchObject({ type: "SCHEMA", stream: "synthetic", key_properties: ["id"] });
    const rows = records(out);
    expect(rows).toHaveLength(25_000);
    expect(rows[0]).toEqual(syntheticRow(1));
    expect(rows[24_999]).toEqual(syntheticRow(25_000));
    expect(out.messages.filter((m) => m.type === "STATE")).toHaveLength(3);
    expect(lastState(out)?.value).toEqual({ bookmarks: { synthetic: { replication_key: "id", replication_key_value: 25_000 } } });
    const again = await runTap("tap-synthetic", ["--config", file({ rows: 25_000 })]);
    expect(again.stdout).toBe(out.stdout);
  });

  it("resumes after its bookmark, discovers its catalog, and fails clearly on a bad config", async () => {
    const state = file({ bookmarks: { synthetic: { replication_key: "id", replication_key_value: 8 } } });
    const resumed = await runTap("tap-synthetic", ["--config", file({ rows: 10 }), "--state", state]);
    expect(records(resumed).map((r) => r.id)).toEqual([9, 10]);
    const discovered = await runTap("tap-synthetic", ["--config", file({ rows: 1 }), "--discover"]);
    expect(JSON.parse(discovered.stdout).streams[0]).toMatchObject({ stream: "synthetic", key_properties: ["id"] });
    const bad = await runTap("tap-synthetic", ["--config", file({ rows: "many" })]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/config.rows must be a non-negative integer/);
    expect(bad.stdout).toBe("");
    const missing = await runTap("tap-synthetic", []);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--config <file> is required/);
  });
});

describe("tap-csv", () => {
  it("streams each file, typed, with key properties; incremental by bookmark", async () => {
    const orders = path.join(dir, "orders.csv");
    fs.writeFileSync(orders, 'id,name,amount\n1,"Ann, A.",10.5\n2,Bob,\n3,Cy,7\n');
    const people = path.join(dir, "people.csv");
    fs.writeFileSync(people, "email;age\na@x.io;31\n");
    const config = file({
      files: [
        { path: orders, stream: "orders", key_properties: ["id"], replication_key: "id", types: { id: "integer", amount: "number" } },
        { path: people, entity: "people", keys: ["email"], delimiter: ";" },
      ],
    });
    const first = await runTap("tap-csv", ["--config", config]);
    expect(first.code).toBe(0);
    expect(first.messages.find((m) => m.type === "SCHEMA" && m.stream === "orders")).toMatchObject({
      key_properties: ["id"],
      schema: { properties: { id: { type: ["integer", "null"] }, name: { type: ["string", "null"] }, amount: { type: ["number", "null"] } } },
    });
    expect(records(first, "orders")).toEqual([
      { id: 1, name: "Ann, A.", amount: 10.5 },
      { id: 2, name: "Bob", amount: null },
      { id: 3, name: "Cy", amount: 7 },
    ]);
    expect(records(first, "people")).toEqual([{ email: "a@x.io", age: "31" }]);
    const state = lastState(first)!.value as { bookmarks: Record<string, unknown> };
    expect(state.bookmarks.orders).toEqual({ replication_key: "id", replication_key_value: 3 });

    fs.appendFileSync(orders, "4,Di,1\n5,Ed,2\n");
    const second = await runTap("tap-csv", ["--config", config, "--state", file(state)]);
    expect(records(second, "orders").map((r) => r.id)).toEqual([4, 5]);
    expect((lastState(second)!.value as typeof state).bookmarks.orders).toEqual({ replication_key: "id", replication_key_value: 5 });

    const catalog = file({ streams: [{ tap_stream_id: "people", stream: "people", schema: {}, metadata: [{ breadcrumb: [], metadata: { selected: true } }] }] });
    const selected = await runTap("tap-csv", ["--config", config, "--catalog", catalog]);
    expect(records(selected, "orders")).toEqual([]);
    expect(records(selected, "people")).toHaveLength(1);
  });

  it("fails naming the file and line of a bad value, and a missing file", async () => {
    const bad = path.join(dir, "bad.csv");
    fs.writeFileSync(bad, "id\n1\nx\n");
    const out = await runTap("tap-csv", ["--config", file({ files: [{ path: bad, types: { id: "integer" } }] })]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/bad\.csv:3 column id: "x" is not an integer/);
    const missing = await runTap("tap-csv", ["--config", file({ files: [{ path: path.join(dir, "nope.csv") }] })]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.csv: ENOENT/);
  });
});

describe("tap-postgres", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.query(`create schema shop`);
    await db.query(`create table shop.orders (id bigint primary key, customer text, total numeric(10,2), updated_at timestamptz not null, meta jsonb)`);
    await db.query(
      `insert into shop.orders select i, 'c' || i, i * 1.5, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute', jsonb_build_object('i', i) from generate_series(1, 4500) i`,
    );
  });
  afterAll(() => db?.drop());

  it("reads a table through a cursor, keyed by its primary key, incremental by the replication key", async () => {
    const config = file({ url: db.url, streams: [{ table: "shop.orders", replication_key: "updated_at" }], fetch_size: 1000 });
    const first = await runTap("tap-postgres", ["--config", config]);
    expect(first.code).toBe(0);
    expect(first.messages[0]).toMatchObject({
      type: "SCHEMA",
      stream: "orders",
      key_properties: ["id"],
      schema: { properties: { id: { type: ["integer", "null"] }, total: { type: ["number", "null"] }, updated_at: { format: "date-time" } } },
    });
    const rows = records(first);
    expect(rows).toHaveLength(4500);
    expect(rows[0]).toEqual({ id: 1, customer: "c1", total: 1.5, updated_at: "2024-01-01T00:01:00+00:00", meta: { i: 1 } });
    // A STATE after every page of the cursor and one at the end.
    expect(first.messages.filter((m) => m.type === "STATE").length).toBe(6);
    const state = lastState(first)!.value as { bookmarks: { orders: { replication_key_value: string } } };
    expect(state.bookmarks.orders).toEqual({ replication_key: "updated_at", replication_key_value: "2024-01-04T03:00:00+00:00" });

    await db.query(`insert into shop.orders values (4501, 'new', 1, '2024-02-01T00:00:00Z', null)`);
    const second = await runTap("tap-postgres", ["--config", config, "--state", file(state)]);
    // Inclusive by default: the bookmarked row comes again (the upsert absorbs it), then the new one.
    expect(records(second).map((r) => r.id)).toEqual([4500, 4501]);
    const strict = await runTap("tap-postgres", ["--config", file({ url: db.url, table: "shop.orders", replication_key: "updated_at", bookmark_inclusive: false }), "--state", file(state)]);
    expect(records(strict).map((r) => r.id)).toEqual([4501]);
  });

  it("reads a query as a stream, and fails clearly when it cannot connect", async () => {
    const out = await runTap("tap-postgres", ["--config", file({ url: db.url, stream: "big", query: "select id, total from shop.orders where id > 4498", key_properties: ["id"] })]);
    expect(out.code).toBe(0);
    expect(records(out, "big").map((r) => r.id).sort()).toEqual([4499, 4500, 4501]);
    const down = await runTap("tap-postgres", ["--config", file({ url: "postgresql://root@127.0.0.1:1/none", table: "x" })]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot connect/);
  });
});
