/**
 * The one-message round (src/engine/sql/commitRound.ts): the server composes the workflow rows
 * and the events that the general path (transitions.ts) builds in JavaScript. The same
 * transitions are applied to twin workflows, one through each path, and must leave the same rows
 * and the same events, in the same order.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initOrm, migrate, systemEm, type Orm } from "../../src/db/orm.js";
import { defineWorkflow, startWorkflow, WorkflowRegistry } from "../../src/engine/index.js";
import { claimSteps, type ClaimedStep } from "../../src/engine/sql/claimSteps.js";
import { inRound } from "../../src/engine/sql/round.js";
import { applyTransitions, type Applied, type Transition } from "../../src/engine/transitions.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const OWNER = "worker-test";
const LEASE_MS = 30_000;
type Change = (step: ClaimedStep) => Omit<Transition, "from">;

const complete: Change = () => ({
  set: { status: "COMPLETED", completedAt: new Date(), dueAt: null, nextAttemptAt: null, deadlineAt: null, error: null, output: { n: 1, quote: "it's \\ ?" }, state: null },
  events: [{ type: "step.polled", detail: { poll: 1 } }, { type: "step.completed" }],
  then: { kind: "advance" },
});
const fail: Change = (step) => ({
  set: { status: "FAILED", dueAt: null, nextAttemptAt: null, deadlineAt: null, error: "boom" },
  events: [{ type: "step.failed", detail: { error: "boom" } }],
  then: { kind: "fail", error: `${step.name}: boom` },
});
const wait: Change = () => ({
  set: { status: "WAITING_CALLBACK", dueAt: new Date(Date.now() + 60_000), error: null, nextAttemptAt: null },
  events: [{ type: "step.waiting_callback", detail: { expiresAt: "soon" } }],
  then: { kind: "wait" },
});
const retry: Change = () => {
  const at = new Date(Date.now() + 60_000);
  return { set: { status: "PENDING", dueAt: at, nextAttemptAt: at, error: "again", deadlineAt: null }, events: [{ type: "step.retry_scheduled", detail: { error: "again", delayMs: 60_000 } }], then: { kind: "none" } };
};

describe("one-message worker rounds", () => {
  let db: TestDatabase;
  let orm: Orm;
  let tenantId: string;
  const registry = new WorkflowRegistry();
  registry.register(
    defineWorkflow({
      kind: "test_three",
      steps: ["a", "b", "c"].map((name) => ({ name, kind: "action" as const, run: async () => undefined })),
    }),
  );
  const sql = <T>(text: string, params: unknown[] = []) => orm.em.getConnection().execute<T[]>(text, params);

  beforeAll(async () => {
    db = await createTestDatabase();
    // One connection: the rounds' prepared statements are visible in pg_prepared_statements.
    orm = await initOrm({ clientUrl: db.url, poolMax: 1 });
    await migrate(orm);
    tenantId = randomUUID();
    await sql(`insert into tenant (id, slug, name) values (?, 'rounds', 'Rounds')`, [tenantId]);
  });
  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  /** Two twin workflows, each with its first step claimed by OWNER. */
  async function twins(): Promise<[ClaimedStep, ClaimedStep]> {
    const ids: string[] = [];
    await systemEm(orm).transactional(async (tem) => {
      for (let i = 0; i < 2; i++) ids.push((await startWorkflow(tem, { kind: "test_three", tenantId, input: { i } }, registry)).id);
    });
    const claimed = await systemEm(orm).transactional((tem) => claimSteps(tem, OWNER, 10, LEASE_MS));
    const of = (id: string) => claimed.find((s) => s.workflow_id === id)!;
    return [of(ids[0]!), of(ids[1]!)];
  }

  /** Messages sent on the (only) connection while `fn` runs. */
  async function messages<T>(fn: () => Promise<T>): Promise<[T, number]> {
    const client = orm.em.getConnection().getKnex().client as { acquireConnection(): Promise<{ query: (...a: unknown[]) => unknown }>; releaseConnection(c: unknown): Promise<void> };
    const connection = await client.acquireConnection();
    await client.releaseConnection(connection);
    const query = connection.query;
    let n = 0;
    connection.query = (...args: unknown[]) => (n++, query.apply(connection, args));
    try {
      return [await fn(), n];
    } finally {
      connection.query = query;
    }
  }

  /**
   * Applies `change` to `step`: in a worker round, which must take one message, or in an ordinary
   * transaction (the general path). The step's slot is claimed again only when it has a next
   * step (as a worker with no other free slot): a round that may claim due steps is not one message.
   */
  async function apply(step: ClaimedStep, change: Change, path: "round" | "general"): Promise<Applied> {
    const transition: Transition = { from: step, ...change(step) };
    const limit = change === complete && step.position < 3 ? 1 : 0;
    const options = { claim: { owner: OWNER, limit, leaseMs: LEASE_MS } };
    if (path === "general") return systemEm(orm).transactional((tem) => applyTransitions(tem, registry, [transition], [], options));
    const [applied, sent] = await messages(() => inRound(orm, (tem) => applyTransitions(tem, registry, [transition], [], options)));
    expect(sent).toBe(1);
    return applied;
  }

  /** What the workflow and its steps look like, and its events after `after`, with the ids taken out. */
  async function state(workflowId: string, after: number) {
    const [workflow] = await sql<Record<string, unknown>>(`select status, error, completed_at is not null as done from workflow where id = ?`, [workflowId]);
    const steps = await sql<Record<string, unknown>>(
      `select name, status, attempt, lease_owner, error, output, started_at is not null as started from workflow_step where workflow_id = ? order by position`,
      [workflowId],
    );
    const rows = await sql<{ sequence: string; type: string; payload: Record<string, any> }>(
      `select sequence, type, payload from event where topic = ? and sequence > ? order by sequence`,
      [`workflow:${workflowId}`, after],
    );
    // Each payload's snapshots must equal the rows as committed: timestamps compared there, here only their presence.
    const [now] = await sql<Record<string, any>>(`select to_jsonb(w) as w from workflow w where id = ?`, [workflowId]);
    const events = rows.map(({ type, payload }) => {
      const { workflow: w, step: s, ...rest } = payload;
      expect(w.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(w.createdAt).toBe(new Date(now!.w.created_at).toISOString());
      return {
        type,
        ...rest,
        workflow: { ...w, id: w.id === workflowId, updatedAt: undefined, completedAt: w.completedAt !== null },
        step: s && { ...s, id: typeof s.id, workflowId: s.workflowId === workflowId, startedAt: s.startedAt !== null, completedAt: s.completedAt !== null, nextAttemptAt: s.nextAttemptAt !== null },
      };
    });
    return { workflow, steps, events };
  }

  const head = async () => Number((await sql<{ n: string }>(`select coalesce(max(sequence), 0) as n from event`))[0]!.n);

  async function same(changes: Change[]) {
    const [a, b] = await twins();
    const from = await head();
    let stepA: ClaimedStep | undefined = a;
    let stepB: ClaimedStep | undefined = b;
    for (const change of changes) {
      const ra: Applied = await apply(stepA!, change, "round");
      const rb: Applied = await apply(stepB!, change, "general");
      expect(ra.steps.length).toBe(1);
      expect(ra.claimed.map((s) => [s.name, s.attempt, s.status, s.workflow.id === a.workflow_id, s.outputs])).toEqual(
        rb.claimed.map((s) => [s.name, s.attempt, s.status, s.workflow.id === b.workflow_id, s.outputs]),
      );
      [stepA, stepB] = [ra.claimed[0], rb.claimed[0]];
    }
    const [sa, sb] = [await state(a.workflow_id, from), await state(b.workflow_id, from)];
    expect(sa.events.length).toBeGreaterThan(0);
    expect(sa).toEqual(sb);
    return sa;
  }

  it("completes a workflow step by step with the same rows and events as the general path", async () => {
    const s = await same([complete, complete, complete]);
    expect(s.workflow).toMatchObject({ status: "COMPLETED", done: true });
    expect(s.events.map((e) => `${e.type}:${e.workflow.status}`)).toEqual([
      "step.polled:RUNNING",
      "step.completed:RUNNING",
      "step.started:RUNNING",
      "step.polled:RUNNING",
      "step.completed:RUNNING",
      "step.started:RUNNING",
      "step.polled:COMPLETED",
      "step.completed:COMPLETED",
      "workflow.completed:COMPLETED",
    ]);
    // Its statement is prepared once on the connection.
    const [prepared] = await sql<{ n: string }>(`select count(*) as n from pg_prepared_statements where statement like '%appended as (%'`);
    expect(Number(prepared!.n)).toBe(1);
  });

  it("fails, waits and schedules retries with the same rows and events as the general path", async () => {
    expect((await same([complete, fail])).workflow).toMatchObject({ status: "FAILED", error: "b: boom" });
    expect((await same([wait])).workflow).toMatchObject({ status: "WAITING" });
    const retried = await same([retry]);
    expect(retried.steps[0]).toMatchObject({ status: "PENDING", error: "again", lease_owner: null });
  });

  it("drops a result whose fence no longer holds, and writes nothing for it", async () => {
    const [a] = await twins();
    const from = await head();
    const stale = { ...a, attempt: a.attempt - 1 };
    const applied = await apply(stale, complete, "round");
    expect(applied.steps).toEqual([]);
    expect(applied.claimed).toEqual([]);
    const s = await state(a.workflow_id, from);
    expect(s.events).toEqual([]);
    expect(s.steps[0]).toMatchObject({ status: "RUNNING", lease_owner: OWNER });
  });
});
