/**
 * Chaos: the runner process SIGKILLed in the middle of a tap-csv sync, with rows already staged.
 * The killed run is reaped as FAILED when its deadline passes, the connector's STATE never moves
 * past the rows loaded (nothing of the killed run is loaded), and the next sync, by a new runner,
 * completes the data: the destination holds every row exactly once.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegisterConnectorDocument, TriggerConnectorSyncDocument } from "../../schema/generated/operations.js";
import { stagingSchemaName } from "../../src/tenants/naming.js";
import { stagingTableName } from "../../src/runner/staging.js";
import { createTenant } from "../helpers/connectors.js";
import { recordReliability } from "../helpers/reliability.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { COMMAND, scale, spawnGantry, until, type GantryProcess } from "./lib.js";

const FIRST_ROWS = scale(1_000, 10_000);
const KILLED_ROWS = scale(60_000, 400_000);
const BOUND_MS = scale(60_000, 180_000);

function appendRows(file: string, from: number, count: number): void {
  const lines: string[] = [];
  for (let id = from; id < from + count; id++) lines.push(`${id},name ${id},${(id % 1000) / 10}`);
  fs.appendFileSync(file, lines.join("\n") + "\n");
}

describe("chaos: runner killed mid-sync", () => {
  let t: TestGantry;
  let runnerEnv: Record<string, string>;
  const runners: GantryProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-chaos-csv-"));

  beforeAll(async () => {
    // Scheduler, workers (the loader) and the api here; runners are separate processes.
    t = await startTestGantry({ env: { GANTRY_ROLES: "api,scheduler,worker", GANTRY_WORKER_POLL_MS: "300", LOG_LEVEL: "warn" } });
    runnerEnv = {
      DATABASE_URL: t.db.url,
      JWT_SECRET: t.jwtSecret,
      ADMIN_API_KEYS: t.adminKey,
      GANTRY_MASTER_KEY: t.gantry.services.config.masterKey!.toString("base64"),
      GANTRY_PUBLIC_URL: t.url,
      GANTRY_ROLES: "runner",
      GANTRY_RUNNER_LEASE_MS: "2000",
    };
  });
  afterAll(async () => {
    await Promise.allSettled(runners.map((r) => r.kill()));
    await t?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reaps the killed run as FAILED, keeps STATE behind the loaded rows, and the next sync completes the data", { timeout: BOUND_MS + 60_000 }, async () => {
    const slug = "chaos-runner";
    const token = await t.tokenFor(await createTenant(t.db, slug));
    const csv = path.join(dir, "orders.csv");
    fs.writeFileSync(csv, "id,name,amount\n");
    appendRows(csv, 1, FIRST_ROWS);
    const config = { files: [{ path: csv, stream: "orders", key_properties: ["id"], replication_key: "id", types: { id: "integer", amount: "number" } }] };
    const registered = await t.gql(RegisterConnectorDocument, { input: { sourceSystem: "shop", tapName: "tap-csv", destinationTable: "orders", config } }, { token });
    expect(registered.errors).toBeUndefined();
    const connector = registered.data!.registerConnector.connector;
    const destination = `"${connector.lakehouseNamespace}"."orders"`;
    const staging = `"${stagingSchemaName("gantry", slug, "shop")}"."${stagingTableName("orders")}"`;

    const trigger = async () => expect((await t.gql(TriggerConnectorSyncDocument, { id: connector.id }, { token })).errors).toBeUndefined();
    const latestRun = async () =>
      (await t.db.query<{ id: string; status: string; rows_loaded: string | null; error_msg: string | null }>(
        `select id, status, rows_loaded, error_msg from connector_run where connector_id = $1 order by queued_at desc limit 1`,
        [connector.id],
      ))[0];
    const finished = (status: string) => until(`a ${status} run`, async () => {
      const run = await latestRun();
      return run && ["COMPLETED", "FAILED"].includes(run.status) && run;
    }, BOUND_MS);
    const bookmark = async () =>
      Number((await t.db.query<{ id: string | null }>(`select state->'bookmarks'->'orders'->>'replication_key_value' as id from connector_tap_state where connector_id = $1`, [connector.id]))[0]?.id ?? 0);
    const destinationRows = async () => {
      const [row] = await t.db.query<{ n: string; distinct_ids: string; max_id: string | null }>(`select count(*) as n, count(distinct id) as distinct_ids, max(id) as max_id from ${destination}`);
      return { rows: Number(row!.n), distinct: Number(row!.distinct_ids), maxId: Number(row!.max_id ?? 0) };
    };

    // Sync 1 completes normally: the baseline STATE and rows.
    runners.push(await spawnGantry(runnerEnv));
    await trigger();
    const first = await finished("first");
    expect(first.status).toBe("COMPLETED");
    const stateAfterFirst = await bookmark();
    expect(await destinationRows()).toEqual({ rows: FIRST_ROWS, distinct: FIRST_ROWS, maxId: FIRST_ROWS });

    // Sync 2: new rows; the runner is killed once some of them are staged.
    appendRows(csv, FIRST_ROWS + 1, KILLED_ROWS);
    await trigger();
    const killed = await until("the second run to stage rows", async () => {
      const run = await latestRun();
      if (!run || run.id === first.id || run.status !== "RUNNING") return false;
      const [row] = await t.db.query<{ n: string }>(`select count(*) as n from ${staging} where run_id = $1`, [run.id]).catch(() => [{ n: "0" }]);
      return Number(row!.n) > 0 && { run, staged: Number(row!.n) };
    }, BOUND_MS, 20);
    await runners.shift()!.kill();
    const stagedAtKill = killed.staged;

    // Nothing of the killed run is loaded, and the STATE has not moved.
    const stateAfterKill = await bookmark();
    const rowsAfterKill = await destinationRows();

    // Its deadline (an hour in production) passes: the scheduler reaps it as FAILED.
    await t.db.query(`update connector_run set deadline_at = now() where id = $1`, [killed.run.id]);
    const reaped = await until("the killed run to be reaped", async () => {
      const run = await latestRun();
      return run?.id === killed.run.id && run.status === "FAILED" && run;
    }, BOUND_MS);
    const stateAfterReap = await bookmark();

    // Sync 3, by a new runner, completes the data.
    runners.push(await spawnGantry(runnerEnv));
    await trigger();
    const third = await until("the third run to finish", async () => {
      const run = await latestRun();
      return run && run.id !== killed.run.id && ["COMPLETED", "FAILED"].includes(run.status) && run;
    }, BOUND_MS);
    const total = FIRST_ROWS + KILLED_ROWS;
    const finalRows = await destinationRows();
    const finalState = await bookmark();
    const [leftover] = await t.db.query<{ n: string }>(`select count(*) as n from ${staging} where run_id = $1`, [killed.run.id]);

    const stateAhead = [stateAfterKill, stateAfterReap].filter((s) => s !== stateAfterFirst).length;
    const missing = total - finalRows.distinct;
    const duplicated = finalRows.rows - finalRows.distinct;
    recordReliability("chaos-runner-kill", COMMAND, [
      { figure: "rows in the first sync / rows added before the killed sync", value: `${FIRST_ROWS} / ${KILLED_ROWS}` },
      { figure: "rows staged when the runner was killed (SIGKILL)", value: stagedAtKill },
      { figure: "killed run reaped as FAILED", value: reaped.status === "FAILED" ? "yes" : "no", target: "yes", ok: reaped.status === "FAILED" },
      { figure: "STATE moved past the loaded rows", value: stateAhead, target: "0", ok: stateAhead === 0 },
      { figure: "rows of the killed run loaded", value: rowsAfterKill.rows - FIRST_ROWS, target: "0", ok: rowsAfterKill.rows === FIRST_ROWS },
      { figure: "next sync", value: third.status, target: "COMPLETED", ok: third.status === "COMPLETED" },
      { figure: "rows missing after the next sync (lost)", value: missing, target: "0", ok: missing === 0 },
      { figure: "rows loaded twice (duplicated)", value: duplicated, target: "0", ok: duplicated === 0 },
      { figure: "staged rows of the killed run left behind", value: Number(leftover!.n), target: "0", ok: Number(leftover!.n) === 0 },
    ]);

    expect(reaped.error_msg).toMatch(/timed out/);
    expect({ stateAfterKill, stateAfterReap }).toEqual({ stateAfterKill: stateAfterFirst, stateAfterReap: stateAfterFirst });
    expect(rowsAfterKill.rows).toBe(FIRST_ROWS);
    expect(third.status).toBe("COMPLETED");
    expect(Number(third.rows_loaded)).toBe(KILLED_ROWS);
    expect(finalRows).toEqual({ rows: total, distinct: total, maxId: total });
    expect(finalState).toBe(total);
    expect(Number(leftover!.n)).toBe(0);
  });
});
