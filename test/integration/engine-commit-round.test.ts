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
import { eventually } from "../helpers/connectors.js";

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
  const projected: string[] = [];
  registry.register(
    defineWorkflow({
      kind: "test_hooked",
      steps: [{ name: "a", kind: "action", run: async () => undefined }],
      onChange: async (_tem, workflow) => void projected.push(`${workflow.id}:${workflow.steps?.[0]?.status}`),
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
        ...(rest as { detail?: unknown }),
        workflow: { ...w, id: w.id === workflowId, createdAt: undefined, updatedAt: undefined, completedAt: w.completedAt !== null },
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

  const startOne = async (kind = "test_three") => {
    let id = "";
    await systemEm(orm).transactional(async (tem) => void ({ id } = await startWorkflow(tem, { kind, tenantId, input: {} }, registry)));
    return id;
  };

  /**
   * A round that only claims up to `limit` due steps. A worker round takes one message, or more
   * when told to claim through the general path.
   */
  async function claimOnly(path: "round" | "general", limit: number, general = false): Promise<Applied> {
    const claim = { claim: { owner: OWNER, limit, leaseMs: LEASE_MS }, general };
    if (path === "general") return systemEm(orm).transactional((tem) => applyTransitions(tem, registry, [], [], claim));
    const [applied, sent] = await messages(() => inRound(orm, (tem) => applyTransitions(tem, registry, [], [], claim)));
    if (general) expect(sent).toBeGreaterThan(1);
    else expect(sent).toBe(1);
    return applied;
  }

  it("claims due steps in the same message, with the same rows and events as the general path", async () => {
    const a = await startOne();
    const fromA = await head();
    const ra = await claimOnly("round", 2);
    const b = await startOne();
    const fromB = await head();
    const rb = await claimOnly("general", 2);
    expect(ra.claimed.map((s) => [s.workflow_id, s.status, s.attempt, s.prev_status, s.reclaimed, s.workflow.status])).toEqual([[a, "RUNNING", 1, "PENDING", false, "PENDING"]]);
    expect(rb.claimed.map((s) => [s.workflow_id, s.status, s.attempt, s.prev_status, s.reclaimed, s.workflow.status])).toEqual([[b, "RUNNING", 1, "PENDING", false, "PENDING"]]);
    expect([ra.drained, rb.drained]).toEqual([true, true]);
    const sa = await state(a, fromA);
    expect(sa.events.map((e) => `${e.type}:${e.workflow.status}`)).toEqual(["step.started:RUNNING"]);
    expect(sa).toEqual(await state(b, fromB));
    // Finishing the first step claims the next workflow's in the same message.
    const c = await startOne();
    const rc = await apply(ra.claimed[0]!, complete, "round");
    expect(rc.claimed.map((s) => s.workflow_id)).toEqual([a]);
    const more = await messages(() => inRound(orm, (tem) => applyTransitions(tem, registry, [{ from: rc.claimed[0]!, ...complete(rc.claimed[0]!) }], [], { claim: { owner: OWNER, limit: 2, leaseMs: LEASE_MS } })));
    expect(more[1]).toBe(1);
    expect(more[0].claimed.map((s) => s.workflow_id)).toEqual([a, c]);
  });

  it("takes over an expired lease as a new attempt marked reclaimed, as the general path does", async () => {
    // Whatever earlier tests left due is claimed first.
    await claimOnly("general", 100);
    const reclaim = async (path: "round" | "general") => {
      const id = await startOne();
      const from = await head();
      await systemEm(orm).transactional((tem) => claimSteps(tem, "crashed-worker", 1, 1));
      await eventually(async () => expect((await sql<{ due: boolean }>(`select due_at <= now() as due from workflow_step where workflow_id = ? and position = 1`, [id]))[0]!.due).toBe(true));
      const applied = await claimOnly(path, 1);
      expect(applied.claimed.map((s) => [s.workflow_id, s.attempt, s.reclaimed, s.prev_status])).toEqual([[id, 2, true, "RUNNING"]]);
      return state(id, from);
    };
    const sa = await reclaim("round");
    expect(sa.events.map((e) => [e.type, e.detail])).toEqual([["step.started", { reclaimed: true }]]);
    expect(sa).toEqual(await reclaim("general"));
  });

  it("leaves a workflow with a projection hook to the general path, and says when one is due", async () => {
    await claimOnly("general", 100);
    const hooked = await startOne("test_hooked");
    const plain = await startOne();
    const first = await claimOnly("round", 2);
    expect(first.claimed.map((s) => s.workflow_id)).toEqual([plain]);
    expect([first.hookedDue, first.drained]).toEqual([true, false]);
    expect(projected).not.toContain(`${hooked}:RUNNING`);
    // The worker's next claim takes the general path, which runs the hook.
    const next = await claimOnly("round", 2, true);
    expect(next.claimed.map((s) => s.workflow_id)).toEqual([hooked]);
    expect(next.hookedDue).toBe(true); // it took one: the next claim stays on the general path
    expect(projected).toContain(`${hooked}:RUNNING`);
    // Nothing hooked is due any more: the general claim says so, and one message takes over again.
    await startOne();
    const after = await claimOnly("round", 2, true);
    expect([after.claimed.length, after.hookedDue]).toEqual([1, false]);
    await startOne();
    const last = await claimOnly("round", 2);
    expect([last.claimed.length, last.hookedDue]).toEqual([1, false]);
  });
});
