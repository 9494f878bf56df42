/**
 * Run claims: two runners never take the same run; a lease that expires is taken over as the
 * next attempt; the old attempt can neither renew nor report.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initOrm, systemEm, type Orm } from "../../src/db/orm.js";
import { claimRuns, renewClaim } from "../../src/runner/sql/claimRuns.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let orm: Orm;
let tenantId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await initOrm({ clientUrl: db.url, poolMax: 4 });
  tenantId = randomUUID();
  await db.query(`insert into tenant (id, slug, name, provisioning_state) values ($1, 'claims', 'claims', 'ACTIVE')`, [tenantId]);
});
afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

async function queuedRun(): Promise<string> {
  const connectorId = randomUUID();
  await db.query(
    `insert into connector (id, tenant_id, source_system, tap_name, destination_catalog, destination_table, lakehouse_namespace, sync_schedule, meltano_environment, webhook_secret_envelope)
     values ($1, $2, 'src', 'tap-synthetic', 'lakehouse', 't', 'gantry_tenant_claims', '0 2 * * *', 'prod', 'x')`,
    [connectorId, tenantId],
  );
  const runId = randomUUID();
  await db.query(`insert into connector_run (id, tenant_id, connector_id, status) values ($1, $2, $3, 'QUEUED')`, [runId, tenantId, connectorId]);
  return runId;
}

const claim = (runner: string, limit: number, leaseMs = 60_000) => systemEm(orm).transactional((tem) => claimRuns(tem, runner, limit, leaseMs));

describe("run claims", () => {
  it("gives concurrent runners disjoint runs and moves them to RUNNING", async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, queuedRun));
    const [a, b] = await Promise.all([claim("a", 15), claim("b", 15)]);
    const ids = [...a, ...b].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([...runs].sort());
    expect([...a, ...b].every((r) => r.status === "RUNNING" && r.attempt === 1)).toBe(true);
    expect(await claim("c", 10)).toEqual([]);
  });

  it("takes over an expired lease as the next attempt; the old attempt is fenced out", async () => {
    const runId = await queuedRun();
    const [first] = await claim("a", 100, 200);
    expect(first).toMatchObject({ id: runId, attempt: 1 });
    expect(await renewClaim(systemEm(orm), runId, 1, "a", 200)).toBe(true);
    expect(await claim("b", 100)).toEqual([]);
    await db.query(`update connector_run_claim set lease_expires_at = now() - interval '1 second' where run_id = $1`, [runId]);
    const [second] = await claim("b", 100);
    expect(second).toMatchObject({ id: runId, attempt: 2, status: "RUNNING" });
    expect(await renewClaim(systemEm(orm), runId, 1, "a", 60_000)).toBe(false);
    expect(await renewClaim(systemEm(orm), runId, 2, "b", 60_000)).toBe(true);
    // A finished run cannot be renewed (the runner stops its tap and reports nothing).
    await db.query(`update connector_run set status = 'FAILED' where id = $1`, [runId]);
    expect(await renewClaim(systemEm(orm), runId, 2, "b", 60_000)).toBe(false);
  });
});
