/**
 * The extract half of a sync against a real database: a real tap process, the streaming reader,
 * staging in batches; and every way a tap can go wrong (crash, hang, malformed output).
 */
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSingerBatches } from "../../src/runner/singer.js";
import { createIfMissing } from "../../src/runner/db.js";
import { ensureStagingSchema, stagedStreams, StagingWriter } from "../../src/runner/staging.js";
import { syncToStaging, TapRunError, type SyncToStagingOptions } from "../../src/runner/sync.js";
import { startTap } from "../../src/runner/tap-process.js";
import { TapRegistry } from "../../src/runner/tap-registry.js";
import { syntheticRow } from "../../src/taps/synthetic.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "taps");
const registry = new TapRegistry({
  ...Object.fromEntries(["crash", "hang", "malformed", "inspect", "compact"].map((n) => [`tap-${n}`, { command: process.execPath, args: [path.join(fixtures, `${n}.mjs`)] }])),
  "tap-compact-bad": { command: process.execPath, args: [path.join(fixtures, "compact.mjs")], env: { BAD: "compact" } },
  "tap-compact-late": { command: process.execPath, args: [path.join(fixtures, "compact.mjs")], env: { BAD: "late" } },
});
const SCHEMA = "gantry_staging_acme_shop";

let db: TestDatabase;
let client: pg.Client;
let second: pg.Client;
beforeAll(async () => {
  db = await createTestDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  second = new pg.Client({ connectionString: db.url });
  await second.connect();
});
afterAll(async () => {
  await client?.end();
  await second?.end();
  await db?.drop();
});

function options(tapName: string, extra: Partial<SyncToStagingOptions> = {}): SyncToStagingOptions {
  return {
    db: client,
    tap: registry.resolve({ tapName }),
    configJson: "{}",
    stagingSchema: SCHEMA,
    runId: randomUUID(),
    timeoutMs: 30_000,
    ...extra,
  };
}

async function stagedCount(table: string, runId: string): Promise<number> {
  const { rows } = await client.query(`select count(*)::int as n from ${SCHEMA}."${table}" where run_id = $1`, [runId]);
  return rows[0].n;
}

/** A killed process may linger as a zombie when PID 1 does not reap orphans (containers). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("reading a real tap", () => {
  it("reads tap-synthetic's stdout as Singer batches", async () => {
    const tap = await startTap({ tap: registry.resolve({ tapName: "tap-synthetic" }), configJson: '{"rows":5000}', timeoutMs: 30_000 });
    let records = 0;
    let states = 0;
    for await (const batch of readSingerBatches(tap.stdout)) {
      for (const m of batch) {
        if (m.type === "RECORD") expect(m.record).toEqual(syntheticRow(++records));
        if (m.type === "STATE") states++;
      }
    }
    expect(records).toBe(5000);
    expect(states).toBe(1);
    expect((await tap.exited).code).toBe(0);
  });

  it("starts the tap in its own process group with a private config file removed afterwards", async () => {
    const tap = await startTap({ tap: registry.resolve({ tapName: "tap-inspect" }), configJson: '{"password":"s3cret"}', state: { bookmarks: {} }, timeoutMs: 30_000 });
    tap.stdout.resume();
    const exit = await tap.exited;
    const seen = JSON.parse(exit.stderr);
    expect(seen.configMode).toBe("600");
    expect(seen.dirMode).toBe("700");
    expect(seen.config).toEqual({ password: "s3cret" });
    expect(seen.pgid).toBe(seen.pid);
    expect(seen.pgid).not.toBe(Number(process.pid));
    expect(seen.args).toContain("--state");
    expect(fs.existsSync(tap.dir)).toBe(false);
  });
});

describe("syncToStaging", () => {
  it("stages every record in batches (on two connections) with ordinals, the streams' keys and the last STATE", async () => {
    const run = options("tap-synthetic", { configJson: '{"rows":23456}', batchRows: 5000, writers: [second] });
    const progress: number[] = [];
    const result = await syncToStaging({ ...run, onProgress: (n) => void progress.push(n) });
    expect(result.rowsSynced).toBe(23_456);
    expect(result.state).toEqual({ bookmarks: { synthetic: { replication_key: "id", replication_key_value: 23_456 } } });
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.every((n, i) => i === 0 || n > progress[i - 1]!)).toBe(true);
    expect(await stagedStreams(client, SCHEMA, run.runId)).toEqual([
      expect.objectContaining({ stream: "synthetic", table: "synthetic", keyProperties: ["id"], rows: 23_456 }),
    ]);
    const { rows } = await client.query(
      `select min(ordinal)::int as lo, max(ordinal)::int as hi, count(distinct (record->>'id'))::int as ids,
              (array_agg(record order by ordinal))[23456] as last
         from ${SCHEMA}.synthetic where run_id = $1`,
      [run.runId],
    );
    expect(rows[0]).toEqual({ lo: 1, hi: 23_456, ids: 23_456, last: syntheticRow(23_456) });
    // The staging table is unlogged: transient data, no WAL.
    const { rows: kind } = await client.query(`select relpersistence from pg_class where oid = '${SCHEMA}.synthetic'::regclass`);
    expect(kind[0].relpersistence).toBe("u");
  });

  it("stages with COPY on a PostgreSQL server, byte for byte, whatever the record holds", async () => {
    const runId = randomUUID();
    await ensureStagingSchema(client, SCHEMA);
    const writer = new StagingWriter(client, { schema: SCHEMA, runId, batchRows: 3, writers: [second], copy: true });
    await writer.schema({ type: "SCHEMA", stream: "odd", schema: { type: "object" }, key_properties: ["id"] });
    const records = [
      { id: 1, text: "back\\slash \\N and \\t" },
      { id: 2, text: "tab\there\nnewline\r\nCRLF", nested: { q: '"quoted"', arr: [null, true, 1.5] } },
      { id: 3, text: "unicode é 中文 😀 \u2028", empty: "" },
      { id: 4, text: "\\", n: null },
      { id: 5, text: "control \u0001\u001f" },
    ];
    for (const record of records) await writer.record({ type: "RECORD", stream: "odd", record });
    const [stream] = await writer.finish();
    expect(stream).toEqual(expect.objectContaining({ stream: "odd", rows: 5 }));
    const { rows } = await client.query(`select ordinal::int, record from ${SCHEMA}.odd where run_id = $1 order by ordinal`, [runId]);
    expect(rows).toEqual(records.map((record, i) => ({ ordinal: i + 1, record })));
  });

  it("stages compact RECORD lines unparsed with COPY, exactly as parsing them would have, whatever they hold", async () => {
    const run = options("tap-compact", { batchRows: 4, writers: [second], copy: true });
    const result = await syncToStaging(run);
    const expected = JSON.parse(/expected: ([^\n]*)/.exec(result.stderr)![1]!) as Array<{ stream: string; record: Record<string, unknown> }>;
    expect(result.rowsSynced).toBe(expected.length);
    expect(result.state).toEqual({ done: true });
    const staged: Array<{ stream: string; record: unknown }> = [];
    for (const stream of await stagedStreams(client, SCHEMA, run.runId)) {
      const { rows } = await client.query(`select record from ${SCHEMA}."${stream.table}" where run_id = $1 order by ordinal`, [run.runId]);
      for (const row of rows) staged.push({ stream: stream.stream, record: row.record });
    }
    const byStream = (list: Array<{ stream: string; record: unknown }>) => [...list].sort((a, b) => a.stream.localeCompare(b.stream));
    expect(byStream(staged)).toEqual(byStream(expected));
    // jsonb keeps the number as the tap wrote it (JSON.parse would round it).
    const { rows: big } = await client.query(`select record->>'big' as big from ${SCHEMA}.odd where run_id = $1 and record ? 'big'`, [run.runId]);
    expect(big[0].big).toBe("12345678901234567890");
  });

  it("fails a malformed compact record with its line number, before a later bad line, staging nothing", async () => {
    for (const [tap, line] of [["tap-compact-bad", 5], ["tap-compact-late", 8]] as const) {
      for (const batchRows of [2, 100]) {
        const run = options(tap, { batchRows, writers: [second], copy: true });
        const err = await syncToStaging(run).catch((e: unknown) => e);
        expect((err as TapRunError).kind).toBe("protocol");
        expect((err as Error).message).toMatch(new RegExp(`^${tap}: Singer protocol error on line ${line} of the tap's output: not valid JSON`));
        expect(await stagedCount("odd", run.runId)).toBe(0);
      }
    }
  });

  it("fails with the tap's stderr when it crashes mid-stream, leaving nothing staged", async () => {
    const run = options("tap-crash");
    const err = await syncToStaging(run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TapRunError);
    expect((err as TapRunError).kind).toBe("exit");
    expect((err as Error).message).toMatch(/^tap-crash exited with code 3; stderr:\n/);
    expect((err as Error).message).toContain("fatal: connection reset by peer");
    expect(await stagedCount("items", run.runId)).toBe(0);
    expect(await stagedStreams(client, SCHEMA, run.runId)).toEqual([]);
  });

  it("kills a hanging tap and its children at the timeout (SIGTERM, then SIGKILL)", async () => {
    const run = options("tap-hang", { timeoutMs: 1500, killGraceMs: 300 });
    const err = await syncToStaging(run).catch((e: unknown) => e);
    expect((err as TapRunError).kind).toBe("timeout");
    expect((err as Error).message).toMatch(/^tap-hang timed out after 2 s and was killed/);
    expect((err as Error).message).toContain("ignoring SIGTERM");
    const childPid = Number(/child pid (\d+)/.exec((err as TapRunError).stderr)![1]);
    expect(alive(childPid)).toBe(false);
  });

  it("fails a malformed line with its line number, and never stages the batch that held it", async () => {
    const run = options("tap-malformed", { batchRows: 100 });
    const inserted: number[] = [];
    const spy = {
      query: async (text: string, params?: unknown[]) => {
        if (text.includes("json_array_elements")) inserted.push(JSON.parse(params![2] as string).length);
        return client.query(text, params);
      },
    };
    const err = await syncToStaging({ ...run, db: spy }).catch((e: unknown) => e);
    expect((err as TapRunError).kind).toBe("protocol");
    expect((err as Error).message).toMatch(/tap-malformed: Singer protocol error on line 252 of the tap's output: not valid JSON/);
    // Records 1–200 went out in two full batches; 201–250 shared a batch with the bad line.
    expect(inserted).toEqual([100, 100]);
    expect(await stagedCount("items", run.runId)).toBe(0);
  });

  it("fails clearly when the tap cannot be started", async () => {
    const run = options("tap-does-not-exist-anywhere");
    const err = await syncToStaging(run).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/tap-does-not-exist-anywhere exited with code .*spawn tap-does-not-exist-anywhere ENOENT/s);
  });
});

describe("creating staging and destination tables while another run does", () => {
  it("takes a table that another run created first, while this run was waiting for it, as created", async () => {
    const table = `"${SCHEMA}"."race_${randomUUID().slice(0, 8)}"`;
    const create = `create unlogged table if not exists ${table} (run_id uuid not null, ordinal bigint not null, record jsonb not null, primary key (run_id, ordinal))`;
    await client.query(`create schema if not exists "${SCHEMA}"`);
    // The other run: its CREATE is done but not committed yet.
    await client.query("begin");
    await client.query(create);
    const pid = (await second.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
    const ours = createIfMissing(second, create);
    // Ours waits on the other's catalogue entry; then the other commits.
    for (;;) {
      const [row] = await db.query<{ waiting: boolean }>(`select wait_event_type = 'Lock' as waiting from pg_stat_activity where pid = $1`, [pid]);
      if (row?.waiting) break;
    }
    await client.query("commit");
    await expect(ours).resolves.toBeUndefined();
    await expect(second.query(`select count(*) from ${table}`)).resolves.toBeTruthy();
  });
});
