/**
 * Chaos: worker processes SIGKILLed every 2 s while workflows of action, callback and poll steps
 * run against a real HTTP service. A replacement worker starts after each kill. Every workflow
 * must finish, no step attempt may reach the service twice, no step may commit twice, and nothing
 * may stay RUNNING past its lease. Short in `npm test`, 1,000 workflows under `npm run chaos`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemEm } from "../../src/db/orm.js";
import { startWorkflow } from "../../src/engine/index.js";
import { createTenant } from "../helpers/engine.js";
import { recordReliability } from "../helpers/reliability.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { writeCatalogue } from "../helpers/test-service.js";
import { startEffectsService, type EffectsService } from "./effects-service.js";
import { COMMAND, scale, sleep, spawnGantry, type GantryProcess } from "./lib.js";

// CHAOS_WORKFLOWS / CHAOS_KILLS override the counts (to bisect a failure).
const WORKFLOWS = Number(process.env.CHAOS_WORKFLOWS ?? scale(40, 1000));
const MAX_KILLS = Number(process.env.CHAOS_KILLS ?? scale(2, 30));
const KILL_EVERY_MS = 2_000;
const LEASE_MS = 1_500;
/** The whole run, kills included, is bounded by this. */
const DEADLINE_MS = scale(60_000, 420_000);

describe("chaos: kill -9 workers under load", () => {
  let svc: EffectsService;
  let t: TestGantry;
  let env: Record<string, string>;
  const workers: GantryProcess[] = [];

  beforeAll(async () => {
    svc = await startEffectsService(scale(40, 30));
    const retry = { maxAttempts: 25, initialDelayMs: 50, backoffFactor: 1.5, maxDelayMs: 1_000, jitter: 0 };
    const services = await writeCatalogue([
      {
        slug: "chaos",
        name: "Chaos",
        steps: [
          // Deadlines are roomy: with 1,000 workflows in one phase on a loaded 2-core machine, a
          // poll check waits its turn for seconds, and a missed deadline is a (legitimate) retry.
          { name: "act", kind: "action", url: `${svc.url}/act`, timeoutMs: 30_000, retry },
          { name: "cb", kind: "callback", url: `${svc.url}/cb`, timeoutMs: 120_000, retry },
          { name: "poll", kind: "poll", url: `${svc.url}/poll`, statusUrl: `${svc.url}/status/{operation_id}`, pollIntervalMs: scale(100, 500), pollBackoffFactor: 1, timeoutMs: 120_000, retry },
        ],
      },
    ]);
    env = { GANTRY_SERVICES: services, GANTRY_WORKER_LEASE_MS: String(LEASE_MS), GANTRY_WORKER_POLL_MS: "300", GANTRY_WORKER_CONCURRENCY: scale("4", "16") };
    // This process serves the API (and the callbacks); the spawned workers do all the steps.
    t = await startTestGantry({ env: { ...env, GANTRY_ROLES: "api", LOG_LEVEL: "warn" } });
    env = {
      ...env,
      DATABASE_URL: t.db.url,
      JWT_SECRET: t.jwtSecret,
      ADMIN_API_KEYS: t.adminKey,
      GANTRY_MASTER_KEY: t.gantry.services.config.masterKey!.toString("base64"),
      GANTRY_PUBLIC_URL: t.url,
      GANTRY_ROLES: "worker",
    };
  });
  afterAll(async () => {
    await Promise.allSettled(workers.map((w) => w.kill()));
    await t?.stop();
    await svc?.close();
  });

  it(`${WORKFLOWS} workflows finish through worker kills, each step effect once`, { timeout: DEADLINE_MS + 60_000 }, async () => {
    const started = Date.now();
    workers.push(...(await Promise.all([spawnGantry(env), spawnGantry(env)])));
    const tenantId = await createTenant(t, "chaos-kill");
    const ids = await systemEm(t.gantry.services.orm).transactional(async (tem) => {
      const out: string[] = [];
      for (let i = 0; i < WORKFLOWS; i++) out.push((await startWorkflow(tem, { kind: "service_provisioning", serviceSlug: "chaos", tenantId, input: { i } })).id);
      return out;
    });
    const unfinished = async () =>
      Number((await t.db.query<{ n: string }>(`select count(*) as n from workflow where id = any($1) and status not in ('COMPLETED', 'FAILED')`, [ids]))[0]!.n);

    // Every 2 s the oldest worker is SIGKILLed and a replacement started; the next 2 s count from
    // when the replacement is up (a start costs seconds of CPU here: without the wait, kills
    // would outpace start-ups and leave no worker at all).
    let kills = 0;
    const intervals: number[] = [];
    let lastKill = 0;
    while (kills < MAX_KILLS && Date.now() - started < DEADLINE_MS && (await unfinished()) > 0) {
      await sleep(KILL_EVERY_MS);
      const victim = workers.shift()!;
      await victim.kill();
      if (lastKill) intervals.push(Date.now() - lastKill);
      lastKill = Date.now();
      kills++;
      workers.push(await spawnGantry(env));
    }
    const killPhaseS = (Date.now() - started) / 1000;

    // Then let the survivors finish, bounded.
    while ((await unfinished()) > 0 && Date.now() - started < DEADLINE_MS) await sleep(200);
    const elapsedS = (Date.now() - started) / 1000;

    const statuses = await t.db.query<{ status: string; n: string }>(`select status, count(*) as n from workflow where id = any($1) group by status`, [ids]);
    const completed = Number(statuses.find((s) => s.status === "COMPLETED")?.n ?? 0);
    const lost = WORKFLOWS - completed;
    const duplicateAttempts = [...svc.calls.values()].filter((n) => n > 1).length;
    const duplicateCommits = (
      await t.db.query(
        `select topic, payload->'step'->>'name' as step from event where type = 'step.completed' and topic = any($1)
          group by 1, 2 having count(*) > 1`,
        [ids.map((id) => `workflow:${id}`)],
      )
    ).length;
    const stuck = Number(
      (await t.db.query<{ n: string }>(`select count(*) as n from workflow_step where workflow_id = any($1) and status = 'RUNNING' and leased_until < now()`, [ids]))[0]!.n,
    );
    // Every completed step was really started at the service. (Not necessarily by its committed
    // attempt: a reclaimed poll step resumes polling the operation it started as a new attempt.)
    const startedSteps = new Set([...svc.calls.keys()].map((key) => key.slice(0, key.lastIndexOf(":"))));
    const committed = await t.db.query<{ step: string }>(
      `select workflow_id || ':' || name as step from workflow_step where workflow_id = any($1) and status = 'COMPLETED'`,
      [ids],
    );
    const phantom = committed.filter((c) => !startedSteps.has(c.step)).length;
    const reclaims = Number(
      (await t.db.query<{ n: string }>(`select count(*) as n from event where type = 'step.started' and (payload->'detail'->>'reclaimed')::boolean and topic = any($1)`, [ids.map((id) => `workflow:${id}`)]))[0]!.n,
    );

    recordReliability("chaos-kill-workers", COMMAND, [
      { figure: "workflows run (action + callback + poll steps)", value: WORKFLOWS },
      { figure: "worker processes killed (SIGKILL)", value: kills },
      { figure: "mean seconds between kills (2 s + a replacement's start-up)", value: intervals.length ? (intervals.reduce((a, b) => a + b, 0) / intervals.length / 1000).toFixed(1) : "-" },
      { figure: "step attempts reclaimed after a kill", value: reclaims },
      { figure: "callbacks refused (superseded attempt)", value: svc.callbacksRefused },
      { figure: "workflows completed", value: completed },
      { figure: "lost (not completed)", value: lost, target: "0", ok: lost === 0 },
      { figure: "duplicated effects (attempt executed twice + step committed twice)", value: duplicateAttempts + duplicateCommits, target: "0", ok: duplicateAttempts + duplicateCommits === 0 },
      { figure: "committed results without an effect", value: phantom, target: "0", ok: phantom === 0 },
      { figure: "stuck RUNNING past lease", value: stuck, target: "0", ok: stuck === 0 },
      { figure: "seconds (kill phase / total)", value: `${killPhaseS.toFixed(1)} / ${elapsedS.toFixed(1)}` },
    ]);

    if (lost + stuck > 0) console.error(`workers said:\n${workers.map((w) => w.output().slice(-4_000)).join("\n---\n")}`);
    if (MAX_KILLS > 0) expect(kills).toBeGreaterThan(0);
    expect(statuses.filter((s) => s.status !== "COMPLETED")).toEqual([]);
    expect({ lost, duplicateAttempts, duplicateCommits, phantom, stuck }).toEqual({ lost: 0, duplicateAttempts: 0, duplicateCommits: 0, phantom: 0, stuck: 0 });
  });
});
