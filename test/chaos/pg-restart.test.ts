/**
 * Chaos: PostgreSQL restarted (fast shutdown: every backend terminated) in the middle of load.
 * A private cluster is used — never the shared one on 5432. Gantry (api, worker, scheduler in one
 * spawned process) must reconnect by itself: /readyz goes red then green, webhook senders that
 * got a 5xx or a dropped connection retry (the runner's own sender, `postRunReport`, Standard
 * Webhooks) and every report is applied exactly once, workflows in flight finish. The time from
 * the restart to /readyz green and to the first successful write is measured (target < 10 s).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegisterConnectorDocument, TriggerConnectorSyncDocument } from "../../schema/generated/operations.js";
import { initOrm, systemEm, type Orm } from "../../src/db/orm.js";
import { startWorkflow } from "../../src/engine/index.js";
import { loadServiceCatalogue } from "../../src/services/catalogue.js";
import { registerServiceWorkflows } from "../../src/services/provisioning.js";
import { postRunReport, type ReportOutcome } from "../../src/runner/report.js";
import { recordReliability } from "../helpers/reliability.js";
import { writeCatalogue } from "../helpers/test-service.js";
import { startEffectsService, type EffectsService } from "./effects-service.js";
import {
  COMMAND,
  deploymentSecrets,
  gql,
  insertTenant,
  query,
  scale,
  sleep,
  spawnGantry,
  startPrivateCluster,
  tenantToken,
  until,
  type GantryProcess,
  type PrivateCluster,
} from "./lib.js";

const CONNECTORS = scale(16, 200);
const WORKFLOWS = scale(16, 200);
const BOUND_MS = scale(60_000, 180_000);

interface Registered {
  id: string;
  secret: string;
  runId: string;
}

describe("chaos: PostgreSQL restart under load", () => {
  let cluster: PrivateCluster;
  let svc: EffectsService;
  let gantry: GantryProcess;
  let orm: Orm;
  let dbUrl: string;
  const secrets = deploymentSecrets();

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    await query(cluster.adminUrl, `create database chaos`);
    dbUrl = cluster.url("chaos");
    svc = await startEffectsService(150);
    const retry = { maxAttempts: 20, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 2_000, jitter: 0 };
    const services = await writeCatalogue([
      {
        slug: "chaos",
        name: "Chaos",
        steps: [
          { name: "act", kind: "action", url: `${svc.url}/act`, retry },
          { name: "cb", kind: "callback", url: `${svc.url}/cb`, timeoutMs: 30_000, retry },
          { name: "poll", kind: "poll", url: `${svc.url}/poll`, statusUrl: `${svc.url}/status/{operation_id}`, pollIntervalMs: 200, pollBackoffFactor: 1, timeoutMs: 30_000, retry },
        ],
      },
    ]);
    gantry = await spawnGantry({
      ...secrets,
      DATABASE_URL: dbUrl,
      GANTRY_ROLES: "api,worker,scheduler",
      GANTRY_SERVICES: services,
      GANTRY_WORKER_LEASE_MS: "3000",
      GANTRY_WORKER_POLL_MS: "300",
    });
    // The test's own ORM only starts workflows (before the restart).
    registerServiceWorkflows(loadServiceCatalogue(services));
    orm = await initOrm({ clientUrl: dbUrl, poolMax: 2 });
  }, 120_000);
  afterAll(async () => {
    await gantry?.stop();
    await orm?.close(true);
    await svc?.close();
    await cluster?.destroy();
  });

  it("reconnects by itself; every report applied once; recovers in under 10 s", { timeout: BOUND_MS + 60_000 }, async () => {
    const url = gantry.url!;
    const tenantId = await insertTenant(dbUrl, "chaos-pg");
    const token = await tenantToken(secrets.JWT_SECRET!, tenantId);

    // Connectors played by a third-party runner (no runner role here): each gets one QUEUED run.
    const connectors: Registered[] = [];
    for (let i = 0; i < CONNECTORS + 1; i++) {
      const res = await gql(url, RegisterConnectorDocument, { input: { sourceSystem: "shop", tapName: "tap-thirdparty", destinationTable: `t${i}` } }, { token });
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      connectors.push({ id: res.data!.registerConnector.connector.id, secret: res.data!.registerConnector.webhookSecret, runId: "" });
    }
    // The last one is the write probe (its trigger is a write through Gantry).
    const probe = connectors.pop()!;
    for (const c of connectors) {
      const res = await gql(url, TriggerConnectorSyncDocument, { id: c.id }, { token });
      if (res.errors) throw new Error(JSON.stringify(res.errors));
    }
    await until("every connector's run to be queued", async () => {
      const runs = await query<{ id: string; connector_id: string }>(dbUrl, `select id, connector_id from connector_run where status = 'QUEUED'`);
      if (runs.length < connectors.length) return false;
      for (const c of connectors) c.runId = runs.find((r) => r.connector_id === c.id)!.id;
      return true;
    }, 20_000);

    // Workflows in flight across the restart.
    const workflowIds = await systemEm(orm).transactional(async (tem) => {
      const out: string[] = [];
      for (let i = 0; i < WORKFLOWS; i++) out.push((await startWorkflow(tem, { kind: "service_provisioning", serviceSlug: "chaos", tenantId, input: { i } })).id);
      return out;
    });

    // Watch /readyz all along.
    const readiness: Array<{ at: number; ok: boolean }> = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const at = Date.now();
        const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
        readiness.push({ at, ok });
        await sleep(50);
      }
    })();

    // Reports: half before the restart, half sent through it by the runner's own sender
    // (Standard Webhooks, retried with backoff under one webhook-id).
    let retried = 0;
    const retryLog = { warn: () => void retried++ } as never;
    const report = (c: Registered, i: number): Promise<ReportOutcome> =>
      postRunReport({
        url: `${url}/v1/etl/meltano/webhook`,
        secret: c.secret,
        webhookId: `msg_chaos_${c.runId}`,
        body: { connector_id: c.id, run_id: c.runId, status: "success", rows_synced: i, state: { bookmarks: { s: { id: i } } }, error_msg: null },
        log: retryLog,
        attempts: 15,
        initialDelayMs: 100,
        maxDelayMs: 2_000,
      });
    const half = Math.floor(connectors.length / 2);
    const outcomes: ReportOutcome[] = [];
    for (let i = 0; i < half; i++) outcomes.push(await report(connectors[i]!, i));

    const restartAt = Date.now();
    const restarting = cluster.restart();
    // The second half is sent while PostgreSQL is going down and coming back, eight senders at once.
    await sleep(30);
    let next = half;
    const during = Promise.all(
      Array.from({ length: 8 }, async () => {
        const out: ReportOutcome[] = [];
        while (next < connectors.length) {
          const i = next++;
          out.push(await report(connectors[i]!, i));
          await sleep(25);
        }
        return out;
      }),
    ).then((all) => all.flat());
    await restarting;
    const upAt = Date.now();

    // First successful write through Gantry sent after PostgreSQL is back.
    let firstWriteAt = 0;
    await until("a write through Gantry to succeed", async () => {
      const res = await gql(url, TriggerConnectorSyncDocument, { id: probe.id }, { token }).catch(() => undefined);
      if (res && !res.errors) firstWriteAt = Date.now();
      return firstWriteAt > 0;
    }, 30_000, 50);
    const greenAt = await until("/readyz green after the restart", async () => readiness.find((r) => r.at >= upAt && r.ok)?.at, 30_000, 50);
    const wentRed = readiness.some((r) => r.at >= restartAt && r.at <= greenAt && !r.ok);
    outcomes.push(...(await during));

    // Loads (on the workers) complete every run; workflows finish.
    await until("every run to complete", async () => {
      const [row] = await query<{ n: string }>(dbUrl, `select count(*) as n from connector_run where status = 'COMPLETED' and id = any($1)`, [connectors.map((c) => c.runId)]);
      return Number(row!.n) === connectors.length;
    }, BOUND_MS);
    await until("every workflow to finish", async () => {
      const [row] = await query<{ n: string }>(dbUrl, `select count(*) as n from workflow where status in ('COMPLETED', 'FAILED') and id = any($1)`, [workflowIds]);
      return Number(row!.n) === workflowIds.length;
    }, BOUND_MS);
    watching = false;
    await watcher;

    const refused = outcomes.filter((o) => o.status !== 200).length;
    const completedEvents = await query<{ run_id: string; n: string }>(
      dbUrl,
      `select payload->'run'->>'id' as run_id, count(*) as n from event where type = 'run.completed' group by 1`,
    );
    const appliedTwice = completedEvents.filter((e) => Number(e.n) > 1).length;
    const deliveries = await query<{ n: string }>(dbUrl, `select count(*) as n from connector_webhook_delivery`);
    const states = await query<{ connector_id: string; state: { bookmarks: { s: { id: number } } } }>(dbUrl, `select connector_id, state from connector_tap_state`);
    const wrongState = connectors.filter((c, i) => states.find((s) => s.connector_id === c.id)?.state.bookmarks.s.id !== i).length;
    const workflowsDone = await query<{ status: string; n: string }>(dbUrl, `select status, count(*) as n from workflow where id = any($1) group by 1`, [workflowIds]);
    const workflowsCompleted = Number(workflowsDone.find((w) => w.status === "COMPLETED")?.n ?? 0);
    const readySeconds = (greenAt - restartAt) / 1000;
    const writeSeconds = (firstWriteAt - restartAt) / 1000;
    const recoverySeconds = Math.max(readySeconds, writeSeconds);
    const alive = gantry.child.exitCode === null && gantry.child.signalCode === null;
    // The event bus's LISTEN connection (wake-ups, subscription fan-out) came back by itself.
    const [listening] = await query<{ n: string }>(dbUrl, `select count(*) as n from pg_stat_activity where datname = 'chaos' and query ilike 'listen %'`);
    const relistened = Number(listening!.n) > 0;

    recordReliability("chaos-pg-restart", COMMAND, [
      { figure: "webhook reports (half sent through the restart)", value: connectors.length },
      { figure: "workflows in flight across the restart", value: WORKFLOWS },
      { figure: "report deliveries retried by the sender (5xx or connection error)", value: retried },
      { figure: "reports not accepted in the end", value: refused, target: "0", ok: refused === 0 },
      { figure: "reports applied twice", value: appliedTwice, target: "0", ok: appliedTwice === 0 },
      { figure: "runs whose committed STATE is not their report's", value: wrongState, target: "0", ok: wrongState === 0 },
      { figure: "workflows completed", value: `${workflowsCompleted} / ${WORKFLOWS}`, target: "all", ok: workflowsCompleted === WORKFLOWS },
      { figure: "/readyz went red during the restart", value: wentRed ? "yes" : "no", target: "yes", ok: wentRed },
      { figure: "PostgreSQL restart (pg_ctl -m fast restart) seconds", value: ((upAt - restartAt) / 1000).toFixed(2) },
      { figure: "restart → /readyz green, seconds", value: readySeconds.toFixed(2) },
      { figure: "restart → first successful write, seconds", value: writeSeconds.toFixed(2) },
      { figure: "recovery seconds", value: recoverySeconds.toFixed(2), target: "< 10 s", ok: recoverySeconds < 10 },
      { figure: "event bus LISTEN connection re-established", value: relistened ? "yes" : "no", target: "yes", ok: relistened },
      { figure: "Gantry process crashed", value: alive ? "no" : "yes", target: "no", ok: alive },
    ]);

    expect(alive).toBe(true);
    expect(wentRed).toBe(true);
    expect(relistened).toBe(true);
    expect({ refused, appliedTwice, wrongState }).toEqual({ refused: 0, appliedTwice: 0, wrongState: 0 });
    expect(Number(deliveries[0]!.n)).toBe(connectors.length);
    expect(workflowsCompleted).toBe(WORKFLOWS);
    expect(recoverySeconds).toBeLessThan(10);
  });
});
