/**
 * How much work a worker takes (src/engine/worker.ts): only what it can start (no prefetch by
 * default), and a round that finishes workflows fills the freed slots in the same transaction.
 * The worker runs bare here (as in bench/engine.ts), against real PostgreSQL and its event bus.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { initOrm, migrate, systemEm, type Orm } from "../../src/db/orm.js";
import { EventBus } from "../../src/events/bus.js";
import { defineWorkflow, startWorker, startWorkflow, workflowTopic, WorkflowRegistry, type Worker } from "../../src/engine/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { eventually } from "../helpers/connectors.js";

describe("worker", () => {
  let db: TestDatabase;
  let orm: Orm;
  let events: EventBus;
  let tenantId: string;
  const log = pino({ level: "warn" });
  const registry = new WorkflowRegistry();
  const gates = new Map<string, () => void>();
  let started: (workflowId: string) => void = () => undefined;
  registry.register(
    defineWorkflow({
      kind: "test_gated",
      steps: [
        {
          name: "wait",
          kind: "action",
          run: (ctx) =>
            new Promise<void>((resolve) => {
              gates.set(ctx.workflowId, resolve);
              started(ctx.workflowId);
            }),
        },
      ],
    }),
  );
  registry.register(defineWorkflow({ kind: "test_one_step", steps: [{ name: "only", kind: "action", run: async () => undefined }] }));

  const host = () => ({ orm, log, events, config: { masterKey: randomBytes(32), publicUrl: "http://127.0.0.1" } });
  const start = async (kind: string) => {
    let id = "";
    await systemEm(orm).transactional(async (tem) => void ({ id } = await startWorkflow(tem, { kind, tenantId, input: {} }, registry)));
    return id;
  };
  const sql = <T>(text: string, params: unknown[] = []) => orm.em.getConnection().execute<T[]>(text, params);
  const leasedBy = async (worker: Worker) =>
    Number((await sql<{ n: string }>(`select count(*) as n from workflow_step where status = 'RUNNING' and lease_owner = ?`, [worker.id]))[0]!.n);
  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await initOrm({ clientUrl: db.url, poolMax: 4 });
    await migrate(orm);
    events = new EventBus(orm, log, { listenUrl: db.url, pollMs: 1000 });
    await events.start();
    tenantId = randomUUID();
    await sql(`insert into tenant (id, slug, name) values (?, 'workers', 'Workers')`, [tenantId]);
  });
  afterAll(async () => {
    await events.stop();
    await orm.close(true);
    await db.drop();
  });

  it("leases only the steps it can start, so another worker takes the rest", async () => {
    const running = new Set<string>();
    started = (id) => running.add(id);
    const ids = await Promise.all(Array.from({ length: 5 }, () => start("test_gated")));
    const first = startWorker(host(), { concurrency: 2, registry, pollMs: 200 });
    let second: Worker | undefined;
    try {
      await eventually(async () => running.size === 2);
      // Claimed-but-waiting steps would show as RUNNING under this worker's lease.
      expect(await leasedBy(first)).toBe(2);
      second = startWorker(host(), { concurrency: 2, registry, pollMs: 200 });
      await eventually(async () => running.size === 4);
      expect(await leasedBy(first)).toBe(2);
      expect(await leasedBy(second)).toBe(2);
      // Freed slots take the last one; every workflow completes.
      for (const id of ids) await eventually(async () => (gates.get(id)?.(), running.has(id)));
      await eventually(async () => {
        const [row] = await sql<{ n: string }>(`select count(*) as n from workflow where id = any(?::uuid[]) and status = 'COMPLETED'`, [`{${ids.join(",")}}`]);
        return Number(row!.n) === ids.length;
      });
    } finally {
      await first.stop();
      await second?.stop();
    }
  });

  it("fills the slot of a finished workflow in the round that finishes it", async () => {
    const a = await start("test_one_step");
    const b = await start("test_one_step");
    const worker = startWorker(host(), { concurrency: 1, registry, pollMs: 200 });
    try {
      await eventually(async () => {
        const [row] = await sql<{ n: string }>(`select count(*) as n from workflow where id in (?, ?) and status = 'COMPLETED'`, [a, b]);
        return Number(row!.n) === 2;
      });
    } finally {
      await worker.stop();
    }
    // The round that committed A's only step also claimed B's (one transaction: one xmin).
    const rows = await sql<{ topic: string; type: string; tx: string }>(
      `select topic, type, xmin::text as tx from event where topic in (?, ?) and type in ('step.completed', 'step.started') order by sequence`,
      [workflowTopic(a), workflowTopic(b)],
    );
    const tx = (id: string, type: string) => rows.find((r) => r.topic === workflowTopic(id) && r.type === type)?.tx;
    expect(tx(a, "step.completed")).toBeDefined();
    expect(tx(b, "step.started")).toBe(tx(a, "step.completed"));
  });
});
