/**
 * Worker processes as deployed (`node dist/src/main.js` with GANTRY_ROLES=worker) against one
 * database: a worker SIGKILLed mid-step is replaced after its lease expires and its stale result
 * is refused; two workers never run one step attempt twice. Needs the build (`npm test` builds).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { startTestService, writeCatalogue, type TestService } from "../helpers/test-service.js";
import { createTenant, eventsUntil, isWorkflowEvent, start } from "../helpers/engine.js";
import { systemEm } from "../../src/db/orm.js";
import { applyTransitions } from "../../src/engine/transitions.js";
import { startWorkflow, workflowRegistry } from "../../src/engine/index.js";
import type { StepRow } from "../../src/engine/sql/rows.js";

const MAIN = path.resolve("dist/src/main.js");
const LEASE_MS = 1000;

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-worker-"));
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? "", GANTRY_ROLES: "worker", GANTRY_DATA_DIR: dataDir, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      fs.rmSync(dataDir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Gantry is ready")) resolve({ child, output: () => output, exited });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then((code) => reject(new Error(`worker exited with ${code} before ready:\n${output}`)));
  });
}

async function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM");
  await w.exited;
}

describe("engine: worker processes", () => {
  let svc: TestService;
  let t: TestGantry;
  let tenantId: string;
  let env: Record<string, string>;
  const workers: WorkerProcess[] = [];
  let release: () => void = () => undefined;

  beforeAll(async () => {
    svc = await startTestService({
      // The first call never answers (its worker gets killed); later ones succeed.
      "POST /slow": (_req, nth) => (nth === 1 ? new Promise((r) => (release = () => r({ status: 500 }))) : { body: { done: true } }),
      "POST /count/a": () => ({ body: {}, delayMs: 2 }),
      "POST /count/b": () => ({ body: {}, delayMs: 2 }),
      "POST /count/c": () => ({ body: {}, delayMs: 2 }),
    });
    const services = await writeCatalogue([
      { slug: "crashy", name: "Crashy", steps: [{ name: "slow", kind: "action", url: `${svc.url}/slow`, retry: { maxAttempts: 3, initialDelayMs: 10, jitter: 0 } }] },
      {
        slug: "counted",
        name: "Counted",
        steps: ["a", "b", "c"].map((s) => ({ name: s, kind: "action", url: `${svc.url}/count/${s}`, retry: { maxAttempts: 1 } })),
      },
    ]);
    env = {
      GANTRY_SERVICES: services,
      GANTRY_MASTER_KEY: randomBytes(32).toString("base64"),
      GANTRY_WORKER_LEASE_MS: String(LEASE_MS),
      GANTRY_WORKER_POLL_MS: "200",
    };
    // This process serves the API only: the spawned workers do all the work.
    t = await startTestGantry({ env: { ...env, GANTRY_ROLES: "api" } });
    env.DATABASE_URL = t.db.url;
    tenantId = await createTenant(t, "crash-co");
  });
  afterAll(async () => {
    release();
    await Promise.all(workers.map(stopWorker));
    await t.stop();
    await svc.close();
  });

  it("reclaims a SIGKILLed worker's step after the lease expires and refuses the stale result", { timeout: 90_000 }, async () => {
    const first = await startWorkerProcess(env);
    workers.push(first);
    const wf = await start(t, "service_provisioning", tenantId, {}, "crashy");
    const request = await svc.nextRequest("POST /slow", 1);
    expect(request.body.attempt).toBe(1);
    const [running] = await t.db.query<StepRow>(`select * from workflow_step where workflow_id = $1`, [wf.id]);
    expect(running).toMatchObject({ status: "RUNNING", attempt: 1 });
    expect(running!.lease_owner).toMatch(new RegExp(`^worker-${first.child.pid}-`));

    first.child.kill("SIGKILL");
    await first.exited;
    const second = await startWorkerProcess(env);
    workers.push(second);

    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.completed"));
    const starts = events.filter((e) => e.type === "step.started");
    expect(starts.map((e) => [e.payload.step!.attempt, e.payload.detail?.reclaimed ?? false])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(svc.count("POST /slow")).toBe(2);
    expect((await svc.nextRequest("POST /slow", 2)).headers["idempotency-key"]).toBe(`${wf.id}:slow:2`);

    // The dead worker's attempt-1 result arrives late: the fence refuses it.
    const stale = await systemEm(t.gantry.services.orm).transactional((tem) =>
      applyTransitions(tem, workflowRegistry, [
        { from: running!, set: { status: "FAILED", error: "late" }, events: [{ type: "step.failed" }], then: { kind: "fail", error: "late" } },
      ]),
    );
    expect(stale.steps).toHaveLength(0);
    const [after] = await t.db.query(`select s.status, s.attempt, s.error, w.status as workflow from workflow_step s join workflow w on w.id = s.workflow_id where s.workflow_id = $1`, [wf.id]);
    expect(after).toEqual({ status: "COMPLETED", attempt: 2, error: null, workflow: "COMPLETED" });
    await stopWorker(second);
  });

  // Spawning two processes takes seconds on a busy machine.
  it("two workers on one database run each step attempt once", { timeout: 90_000 }, async () => {
    // A roomy lease: on a loaded machine a 1 s lease can lapse under a live worker, and a
    // reclaim is a new attempt (this test is about duplicates, not about crashes).
    const roomy = { ...env, GANTRY_WORKER_LEASE_MS: "15000" };
    const pair = await Promise.all([startWorkerProcess(roomy), startWorkerProcess(roomy)]);
    workers.push(...pair);
    // One transaction enqueues all 30, so both workers find a backlog to share.
    const started = await systemEm(t.gantry.services.orm).transactional(async (tem) => {
      const out = [];
      for (let i = 0; i < 30; i++) out.push(await startWorkflow(tem, { kind: "service_provisioning", serviceSlug: "counted", tenantId, input: { i } }));
      return out;
    });
    const ids = started.map((w) => w.id);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [row] = await t.db.query<{ done: string }>(`select count(*) as done from workflow where id = any($1) and status = 'COMPLETED'`, [ids]);
      if (Number(row!.done) === ids.length) break;
      if (Date.now() > deadline) throw new Error(`only ${row!.done} of ${ids.length} workflows completed; workers said:\n${pair.map((w) => w.output()).join("\n")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const keys = svc.requests.filter((r) => r.path.startsWith("/count/")).map((r) => String(r.headers["idempotency-key"]));
    expect(keys).toHaveLength(90);
    expect(new Set(keys).size).toBe(90);
    expect(keys.every((k) => k.endsWith(":1"))).toBe(true);
    await Promise.all(pair.map(stopWorker));
  });
});
