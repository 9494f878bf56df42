import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/logger.js";
import { initOrm, type Orm } from "../../src/db/orm.js";
import { ConnectorScheduler } from "../../src/connectors/scheduler.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { createTenant, eventually, register } from "../helpers/connectors.js";
import { startTestGantry } from "../helpers/server.js";
import { TriggerConnectorSyncDocument } from "../../schema/generated/operations.js";

const log = createLogger("silent");

/** Inserts `n` ACTIVE connectors for one tenant, all due a minute ago. */
async function seedDue(db: TestDatabase, tenantId: string, n: number, schedule = "0 2 * * *"): Promise<void> {
  await db.query(
    `insert into connector (id, tenant_id, source_system, tap_name, destination_catalog, destination_table, lakehouse_namespace,
                            sync_schedule, meltano_environment, webhook_secret_envelope, next_run_at)
     select gen_random_uuid(), $1, 'src', 'tap-synthetic', 'lakehouse', 't' || g, 'gantry_tenant_s', $3, 'prod', 'x',
            now() - interval '1 minute'
       from generate_series(1, $2) g`,
    [tenantId, n, schedule],
  );
}

describe("connectors: the scheduler role", () => {
  let db: TestDatabase;
  let orms: Orm[];
  let tenantId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    orms = await Promise.all([initOrm({ clientUrl: db.url, poolMax: 4 }), initOrm({ clientUrl: db.url, poolMax: 4 })]);
    tenantId = randomUUID();
    await db.query(`insert into tenant (id, slug, name) values ($1, 'sched', 'Sched')`, [tenantId]);
  });
  afterAll(async () => {
    await Promise.all(orms.map((o) => o.close(true)));
    await db.drop();
  });

  it("dispatches 500 due connectors exactly once across two schedulers", async () => {
    await seedDue(db, tenantId, 500);
    const schedulers = orms.map((orm) => new ConnectorScheduler(orm, undefined, log, { batchSize: 50, pollMs: 100 }));
    schedulers.forEach((s) => s.start());
    try {
      await eventually(async () => (await db.query(`select count(*)::int as n from connector_run`))[0]!.n >= 500);
      // Both keep polling: nothing more may be queued once every connector has its run.
      await Promise.all(schedulers.map((s) => { s.kick(); return s.idle(); }));
    } finally {
      await Promise.all(schedulers.map((s) => s.stop()));
    }
    const [counts] = await db.query(
      `select count(*)::int as runs, count(distinct connector_id)::int as connectors from connector_run`,
    );
    expect(counts).toEqual({ runs: 500, connectors: 500 });
    expect(schedulers[0]!.dispatched + schedulers[1]!.dispatched).toBe(500);
    const [advanced] = await db.query(`select count(*)::int as n from connector where next_run_at > now()`);
    expect(advanced!.n).toBe(500);
    const events = await db.query(`select count(*)::int as n from event where type = 'run.queued'`);
    expect(events[0]!.n).toBe(500);
  });

  it("never queues a second run while one is in flight, and reaps runs whose report never came", async () => {
    await db.query(`delete from connector`);
    await seedDue(db, tenantId, 1, "* * * * *");
    const [c] = await db.query<{ id: string }>(`select id from connector`);
    const scheduler = new ConnectorScheduler(orms[0]!, undefined, log, { pollMs: 60_000 }).start();
    try {
      await scheduler.idle();
      expect((await db.query(`select status from connector_run where connector_id = $1`, [c!.id])).map((r) => r.status)).toEqual(["QUEUED"]);
      // Due again while its run is in flight: nothing new.
      await db.query(`update connector set next_run_at = now() - interval '1 second' where id = $1`, [c!.id]);
      scheduler.kick();
      await scheduler.idle();
      expect(await db.query(`select 1 from connector_run where connector_id = $1`, [c!.id])).toHaveLength(1);
      // The guard holds even for a writer that skips the claim.
      await expect(
        db.query(`insert into connector_run (id, tenant_id, connector_id) values (gen_random_uuid(), $1, $2)`, [tenantId, c!.id]),
      ).rejects.toThrow(/connector_run_one_in_flight/);

      // The report never arrives: past its deadline the run is FAILED and counted; the next run follows.
      await db.query(`update connector_run set deadline_at = now() - interval '1 second' where connector_id = $1`, [c!.id]);
      scheduler.kick();
      await scheduler.idle();
      const runs = await db.query(`select status, error_msg from connector_run where connector_id = $1 order by queued_at`, [c!.id]);
      expect(runs[0]).toMatchObject({ status: "FAILED", error_msg: expect.stringMatching(/timed out/) });
      expect(runs[1]).toMatchObject({ status: "QUEUED" });
      const [conn] = await db.query(`select consecutive_failures from connector where id = $1`, [c!.id]);
      expect(conn!.consecutive_failures).toBe(1);
    } finally {
      await scheduler.stop();
    }
  });

  it("opens the breaker when the third consecutive run times out", async () => {
    await db.query(`delete from connector`);
    await seedDue(db, tenantId, 1, "* * * * *");
    const [c] = await db.query<{ id: string }>(`select id from connector`);
    await db.query(`update connector set consecutive_failures = 2 where id = $1`, [c!.id]);
    await db.query(
      `insert into connector_run (id, tenant_id, connector_id, status, deadline_at) values (gen_random_uuid(), $1, $2, 'RUNNING', now() - interval '1 second')`,
      [tenantId, c!.id],
    );
    const scheduler = new ConnectorScheduler(orms[1]!, undefined, log, { pollMs: 60_000 }).start();
    await scheduler.idle();
    await scheduler.stop();
    const [conn] = await db.query(`select status, next_run_at, consecutive_failures from connector where id = $1`, [c!.id]);
    expect(conn).toEqual({ status: "ERROR", next_run_at: null, consecutive_failures: 3 });
    expect(await db.query(`select 1 from connector_run where connector_id = $1 and status = 'QUEUED'`, [c!.id])).toEqual([]);
  });
});

describe("connectors: a trigger wakes the scheduler", () => {
  it("queues the run through the wake-up, not the safety poll", async () => {
    const t = await startTestGantry({ env: { GANTRY_ROLES: "api" } });
    // The poll is an hour away: only the wake-up can make this run happen in time.
    const scheduler = new ConnectorScheduler(t.gantry.services.orm, t.gantry.services.events, log, { pollMs: 3_600_000 }).start();
    try {
      const token = await t.tokenFor(await createTenant(t.db, "wakeful"));
      const { connector } = await register(t, token);
      await scheduler.idle();
      expect(await t.db.query(`select 1 from connector_run where connector_id = $1`, [connector.id])).toEqual([]);
      const res = await t.gql(TriggerConnectorSyncDocument, { id: connector.id }, { token });
      expect(res.data!.triggerConnectorSync.status).toBe("queued");
      const [run] = await eventually(async () => {
        const rows = await t.db.query(`select status, "trigger" from connector_run where connector_id = $1`, [connector.id]);
        return rows.length > 0 ? rows : undefined;
      }, 5_000);
      expect(run).toEqual({ status: "QUEUED", trigger: "MANUAL" });
    } finally {
      await scheduler.stop();
      await t.stop();
    }
  });
});
