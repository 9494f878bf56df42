/**
 * Chaos: every role replicated — two api, two worker, two scheduler and one runner process on one
 * database. Connectors are triggered through either api, in rounds; the schedulers race to
 * dispatch, the runner runs tap-synthetic, the workers load. No run may be dispatched or claimed
 * twice, and every graphql-ws subscriber, on either api process, must get every event of its
 * subscription exactly once and in order.
 */
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { print } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectorRunChangedDocument, RegisterConnectorDocument, TriggerConnectorSyncDocument } from "../../schema/generated/operations.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { recordReliability } from "../helpers/reliability.js";
import { COMMAND, deploymentSecrets, gql, insertTenant, scale, spawnGantry, tenantToken, until, type GantryProcess } from "./lib.js";

const CONNECTORS = scale(4, 30);
const ROUNDS = scale(2, 4);
const ROWS = scale(200, 2_000);
const BOUND_MS = scale(60_000, 240_000);

describe("chaos: replicas of every role on one database", () => {
  let db: TestDatabase;
  const processes: GantryProcess[] = [];
  const clients: Client[] = [];
  const secrets = deploymentSecrets();

  beforeAll(async () => {
    db = await createTestDatabase();
    const common = { ...secrets, DATABASE_URL: db.url, GANTRY_WORKER_POLL_MS: "500" };
    // Full: seven processes, one role each. Short (inside `npm test`): the same replicas
    // co-located in three processes (api+worker+scheduler twice, the runner alone), since
    // starting a process costs seconds of CPU on a busy machine.
    const apis = await Promise.all(
      [0, 1].map(() => spawnGantry({ ...common, GANTRY_ROLES: scale("api,worker,scheduler", "api") })),
    );
    processes.push(...apis);
    // Background roles report and take callbacks through the first api.
    const background = { ...common, GANTRY_PUBLIC_URL: apis[0]!.url! };
    processes.push(
      ...(await Promise.all(
        scale(["runner"], ["worker", "worker", "scheduler", "scheduler", "runner"]).map((role) => spawnGantry({ ...background, GANTRY_ROLES: role })),
      )),
    );
  }, 120_000);
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.dispose()));
    await Promise.allSettled(processes.map((p) => p.stop()));
    await db?.drop();
  });

  it("no run dispatched twice; every subscriber on either api gets every event in order", { timeout: BOUND_MS + 60_000 }, async () => {
    const apis = processes.slice(0, 2).map((p) => p.url!);
    const tenantId = await insertTenant(db.url, "chaos-replicas");
    const token = await tenantToken(secrets.JWT_SECRET!, tenantId);
    const ids: string[] = [];
    for (let i = 0; i < CONNECTORS; i++) {
      const res = await gql(apis[i % 2]!, RegisterConnectorDocument, {
        input: { sourceSystem: "synth", tapName: "tap-synthetic", destinationTable: `synthetic_${i}`, config: { rows: ROWS } },
      }, { token });
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      ids.push(res.data!.registerConnector.connector.id);
    }

    // One subscriber per connector on each api, from the current head (so a subscription that
    // is still being set up when the first event commits replays it rather than missing it).
    const [{ head }] = await db.query<{ head: string }>(`select coalesce(max(sequence), 0) as head from event`);
    const received = new Map<string, number[]>();
    const errors: unknown[] = [];
    for (const [a, api] of apis.entries()) {
      const client = createClient({ url: `${api.replace(/^http/, "ws")}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
      clients.push(client);
      for (const id of ids) {
        const key = `${a}:${id}`;
        received.set(key, []);
        client.subscribe<{ connectorRunChanged: { sequence: number } }>(
          { query: print(ConnectorRunChangedDocument), variables: { connectorId: id, since: Number(head) } },
          { next: (m) => void received.get(key)!.push(m.data!.connectorRunChanged.sequence), error: (e) => void errors.push(e), complete: () => undefined },
        );
      }
    }

    const started = Date.now();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, id] of ids.entries()) {
        const res = await gql(apis[(i + round) % 2]!, TriggerConnectorSyncDocument, { id }, { token });
        if (res.errors) throw new Error(JSON.stringify(res.errors));
      }
      await until(`round ${round}: every connector's run to finish`, async () => {
        const [row] = await db.query<{ n: string }>(`select count(*) as n from connector_run where status in ('COMPLETED', 'FAILED', 'CANCELLED')`);
        return Number(row!.n) === CONNECTORS * round;
      }, BOUND_MS, 200);
    }
    const elapsedS = (Date.now() - started) / 1000;

    const runs = await db.query<{ connector_id: string; status: string; attempt: number | null; queued: string; rows_loaded: string | null; error_msg: string | null }>(
      `select r.connector_id, r.status, c.attempt, r.rows_loaded, r.error_msg,
              (select count(*) from event e where e.type = 'run.queued' and e.payload->'run'->>'id' = r.id::text) as queued
         from connector_run r left join connector_run_claim c on c.run_id = r.id`,
    );
    const extraRuns = ids.reduce((n, id) => n + Math.max(0, runs.filter((r) => r.connector_id === id).length - ROUNDS), 0);
    const claimedTwice = runs.filter((r) => r.attempt !== 1).length;
    const queuedTwice = runs.filter((r) => Number(r.queued) !== 1).length;
    const notCompleted = runs.filter((r) => r.status !== "COMPLETED").length;
    // What went wrong, for the failure message.
    for (const r of runs.filter((r) => r.status !== "COMPLETED")) console.error(`run of ${r.connector_id} ended ${r.status}: ${r.error_msg}`);
    // tap-synthetic is incremental: the first round loads every row, later rounds none.
    const rowsWrong = ids.filter((id) => runs.filter((r) => r.connector_id === id).reduce((n, r) => n + Number(r.rows_loaded ?? 0), 0) !== ROWS).length;

    // Every subscriber: exactly the topic's events after `head`, in sequence order.
    const expected = new Map<string, number[]>();
    for (const id of ids) {
      expected.set(id, (await db.query<{ sequence: string }>(`select sequence from event where topic = $1 and sequence > $2 order by sequence`, [`connector:${id}`, head])).map((r) => Number(r.sequence)));
    }
    await until("every subscriber to catch up", async () => [...received].every(([key, got]) => got.length >= expected.get(key.split(":")[1]!)!.length), 15_000).catch(() => undefined);
    let eventsDelivered = 0;
    let subscribersWrong = 0;
    for (const [key, got] of received) {
      eventsDelivered += got.length;
      if (JSON.stringify(got) !== JSON.stringify(expected.get(key.split(":")[1]!))) subscribersWrong++;
    }
    const dead = processes.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null).length;

    recordReliability("chaos-replicas", COMMAND, [
      { figure: "replicas: api × 2, worker × 2, scheduler × 2, runner × 1, in processes", value: processes.length },
      { figure: "connectors × trigger rounds", value: `${CONNECTORS} × ${ROUNDS}` },
      { figure: "runs completed", value: runs.length - notCompleted },
      { figure: "runs dispatched twice (extra run, queued twice, claimed twice)", value: extraRuns + queuedTwice + claimedTwice, target: "0", ok: extraRuns + queuedTwice + claimedTwice === 0 },
      { figure: "runs not completed", value: notCompleted, target: "0", ok: notCompleted === 0 },
      { figure: "connectors whose runs did not load every row once", value: rowsWrong, target: "0", ok: rowsWrong === 0 },
      { figure: "subscribers (graphql-ws, both apis)", value: received.size },
      { figure: "events delivered to subscribers", value: eventsDelivered },
      { figure: "subscribers missing, repeating or misordering an event", value: subscribersWrong + errors.length, target: "0", ok: subscribersWrong + errors.length === 0 },
      { figure: "processes that died", value: dead, target: "0", ok: dead === 0 },
      { figure: "seconds", value: elapsedS.toFixed(1) },
    ]);

    expect(errors).toEqual([]);
    expect({ extraRuns, claimedTwice, queuedTwice, notCompleted, rowsWrong, subscribersWrong, dead }).toEqual({
      rowsWrong: 0,
      extraRuns: 0,
      claimedTwice: 0,
      queuedTwice: 0,
      notCompleted: 0,
      subscribersWrong: 0,
      dead: 0,
    });
    expect(runs).toHaveLength(CONNECTORS * ROUNDS);
  });
});
