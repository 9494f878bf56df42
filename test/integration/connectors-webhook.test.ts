import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectorDocument, PauseConnectorDocument, ResumeConnectorDocument } from "../../schema/generated/operations.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { createTenant, eventually, postReport, queueRun as queueRunFor, unscheduledConnector, type Report } from "../helpers/connectors.js";

describe("connectors: the run webhook (Standard Webhooks)", () => {
  let t: TestGantry;
  let token: string;
  let tenantId: string;

  const queueRun = (connectorId: string) => queueRunFor(t.db, tenantId, connectorId);

  /** The loader's job completes a reported run shortly after the report (nothing staged here). */
  const completed = (runId: string) =>
    eventually(async () => (await t.db.query(`select status from connector_run where id = $1`, [runId]))[0]?.status === "COMPLETED");

  // Keep the scheduler away: these tests drive the runs themselves.
  const fresh = () => unscheduledConnector(t, token);

  beforeAll(async () => {
    // A third-party runner is simulated here: no runner role, so the tests post the reports.
    t = await startTestGantry({ env: { GANTRY_ROLES: "api,scheduler,worker" } });
    tenantId = await createTenant(t.db, "hooks");
    token = await t.tokenFor(tenantId);
  });
  afterAll(() => t.stop());

  it("accepts a report signed by the stock library, and a replay changes nothing", async () => {
    const c = await fresh();
    const runId = await queueRun(c.id);
    const body: Report = { connector_id: c.id, run_id: runId, status: "success", rows_synced: 7, state: { bookmarks: { s: { v: 1 } } } };
    const first = await postReport(t.url, c.secret, body, { id: "msg_replay_1" });
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual({ connector_id: c.id, run_id: runId, status: "LOADING" });
    await completed(runId);
    const eventsBefore = await t.db.query(`select count(*)::int as n from event where topic = $1`, [`connector:${c.id}`]);

    const replay = await postReport(t.url, c.secret, body, { id: "msg_replay_1" });
    expect(replay.status).toBe(200);
    expect(replay.body.data).toEqual(first.body.data);
    const [conn] = await t.db.query(`select rows_total::int, consecutive_failures from connector where id = $1`, [c.id]);
    expect(conn).toEqual({ rows_total: 0, consecutive_failures: 0 });
    expect(await t.db.query(`select count(*)::int as n from event where topic = $1`, [`connector:${c.id}`])).toEqual(eventsBefore);

    // The same run reported again under a new id: a finished run never changes.
    const again = await postReport(t.url, c.secret, { ...body, status: "failed" });
    expect(again.status).toBe(409);
  });

  it("answers 401 for a tampered body, wrong secret, stale timestamp or missing header", async () => {
    const c = await fresh();
    const runId = await queueRun(c.id);
    const body: Report = { connector_id: c.id, run_id: runId, status: "success", rows_synced: 1 };
    const wrong = `whsec_${randomBytes(32).toString("base64")}`;
    expect((await postReport(t.url, c.secret, body, { tamper: (raw) => raw.replace('"rows_synced":1', '"rows_synced":9') })).status).toBe(401);
    expect((await postReport(t.url, wrong, body)).status).toBe(401);
    expect((await postReport(t.url, c.secret, body, { timestamp: new Date(Date.now() - 6 * 60_000) })).status).toBe(401);
    expect((await postReport(t.url, c.secret, body, { timestamp: new Date(Date.now() + 6 * 60_000) })).status).toBe(401);
    const missing = await postReport(t.url, c.secret, body, { headers: { "content-type": "application/json", "webhook-id": "x" } });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe("UNAUTHENTICATED");
    const [run] = await t.db.query(`select status from connector_run where id = $1`, [runId]);
    expect(run!.status).toBe("QUEUED");
  });

  it("answers 404 for unknown connector or run, 422 for invalid bodies, 413 for huge ones", async () => {
    const c = await fresh();
    const unknownConnector = await postReport(t.url, c.secret, { connector_id: randomUUID(), run_id: randomUUID(), status: "success" });
    expect(unknownConnector.status).toBe(404);
    const unknownRun = await postReport(t.url, c.secret, { connector_id: c.id, run_id: randomUUID(), status: "success" });
    expect(unknownRun.status).toBe(404);
    const runId = await queueRun(c.id);
    const bad = await postReport(t.url, c.secret, { connector_id: c.id, run_id: runId, status: "done" as never, rows_synced: -1 });
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ loc: ["body", "status"], type: "enum" }),
        expect.objectContaining({ loc: ["body", "rows_synced"] }),
      ]),
    );
    expect((await postReport(t.url, c.secret, "not json")).status).toBe(422);
    const huge = await postReport(t.url, c.secret, { connector_id: c.id, run_id: runId, status: "success", error_msg: "x".repeat(300_000) });
    expect(huge.status).toBe(413);
  });

  it("opens the breaker after three failed reports; a success in between resets the count; resume re-arms", async () => {
    const c = await fresh();
    await t.db.query(`update connector set next_run_at = now() + interval '1 day' where id = $1`, [c.id]);
    const fail = async () => {
      const runId = await queueRun(c.id);
      expect((await postReport(t.url, c.secret, { connector_id: c.id, run_id: runId, status: "failed", error_msg: "boom" })).status).toBe(200);
    };
    const detail = async () => (await t.gql(ConnectorDocument, { id: c.id }, { token })).data!.connector;

    await fail();
    await fail();
    expect(await detail()).toMatchObject({ status: "ACTIVE", consecutiveFailures: 2 });
    const ok = await queueRun(c.id);
    await postReport(t.url, c.secret, { connector_id: c.id, run_id: ok, status: "success", rows_synced: 0 });
    await completed(ok);
    expect(await detail()).toMatchObject({ status: "ACTIVE", consecutiveFailures: 0 });

    await fail();
    await fail();
    expect(await detail()).toMatchObject({ status: "ACTIVE", consecutiveFailures: 2 });
    await fail();
    expect(await detail()).toMatchObject({ status: "ERROR", consecutiveFailures: 3, nextRunAt: null });

    const resumed = (await t.gql(ResumeConnectorDocument, { id: c.id }, { token })).data!.resumeConnector;
    expect(resumed).toMatchObject({ status: "ACTIVE", consecutiveFailures: 0 });
    expect(resumed.nextRunAt).not.toBeNull();
  });

  it("applies concurrent reports once each, including the same delivery sent twice at once", async () => {
    const pairs = await Promise.all(Array.from({ length: 12 }, async () => {
      const c = await fresh();
      return { c, runId: await queueRun(c.id) };
    }));
    const sends = pairs.flatMap(({ c, runId }, n) => {
      const body: Report = { connector_id: c.id, run_id: runId, status: n % 3 === 0 ? "failed" : "success", rows_synced: 5 };
      const id = `msg_dup_${n}`;
      return [postReport(t.url, c.secret, body, { id }), postReport(t.url, c.secret, body, { id })];
    });
    const answers = await Promise.all(sends);
    for (let n = 0; n < pairs.length; n++) {
      const [a, b] = [answers[2 * n]!, answers[2 * n + 1]!];
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect(b.body.data).toEqual(a.body.data);
      expect(a.body.data.status).toBe(n % 3 === 0 ? "FAILED" : "LOADING");
    }
    // The loader's job completes each successful run (nothing was staged: 0 rows load).
    for (const [n, { runId }] of pairs.entries()) if (n % 3 !== 0) await completed(runId);
    const ids = pairs.map((p) => p.c.id);
    const [totals] = await t.db.query(
      `select sum(rows_total)::int as rows, sum(consecutive_failures)::int as failures from connector where id = any($1::uuid[])`,
      [ids],
    );
    expect(totals).toEqual({ rows: 0, failures: 4 });
    const [events] = await t.db.query(`select count(*)::int as n from event where topic = any($1::text[])`, [ids.map((id) => `connector:${id}`)]);
    expect(events!.n).toBe(8 * 2 + 4);
  });

  it("lets a run in flight finish after its connector is paused", async () => {
    const c = await fresh();
    const runId = await queueRun(c.id);
    await t.gql(PauseConnectorDocument, { id: c.id }, { token });
    const res = await postReport(t.url, c.secret, { connector_id: c.id, run_id: runId, status: "success", rows_synced: 2 });
    expect(res.body.data.status).toBe("LOADING");
    await completed(runId);
    expect((await t.gql(ConnectorDocument, { id: c.id }, { token })).data!.connector).toMatchObject({
      status: "PAUSED",
      nextRunAt: null,
      rowsTotal: 0, // the loader found nothing staged for this third-party run
    });
  });
});
