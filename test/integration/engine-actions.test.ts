import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { workflowRegistry, defineWorkflow } from "../../src/engine/index.js";
import { createTenant, eventsUntil, isWorkflowEvent, labels, start } from "../helpers/engine.js";

const calls: string[] = [];
let flaky = 0;

workflowRegistry.register(
  defineWorkflow({
    kind: "test_actions",
    steps: [
      { name: "one", kind: "action", run: async (ctx) => (calls.push(`one:${ctx.attempt}`), { output: { n: 1 }, secret: { password: "hunter2" } }) },
      { name: "two", kind: "action", run: async (ctx) => (calls.push(`two:${ctx.attempt}`), { output: { sum: Number(ctx.outputs.one?.n) + 1 } }) },
    ],
  }),
);
workflowRegistry.register(
  defineWorkflow({
    kind: "test_flaky",
    steps: [
      {
        name: "flaky",
        kind: "action",
        retry: { maxAttempts: 4, initialDelayMs: 50, backoffFactor: 2, maxDelayMs: 1000, jitter: 0 },
        run: async () => {
          flaky++;
          if (flaky < 3) throw new Error(`boom ${flaky}`);
          return { output: { tries: flaky } };
        },
      },
    ],
  }),
);
workflowRegistry.register(
  defineWorkflow({
    kind: "test_exhaust",
    steps: [
      {
        name: "never",
        kind: "action",
        retry: { maxAttempts: 2, initialDelayMs: 20, backoffFactor: 2, maxDelayMs: 100, jitter: 0 },
        run: async () => {
          throw new Error("service unavailable");
        },
      },
    ],
  }),
);

workflowRegistry.register(
  defineWorkflow({
    kind: "test_poll_deadline",
    steps: [
      {
        name: "never_ready",
        kind: "poll",
        timeoutMs: 1500, // room for several polls even on a loaded machine
        retry: { maxAttempts: 1, initialDelayMs: 10, backoffFactor: 1, maxDelayMs: 10, jitter: 0 },
        pollPolicy: { intervalMs: 40, backoffFactor: 2, maxIntervalMs: 80 },
        run: async () => ({ state: { op: "x" } }),
        poll: async (ctx) => ({ status: "pending", detail: { op: ctx.pollState?.op } }),
      },
    ],
  }),
);
workflowRegistry.register(
  defineWorkflow({
    kind: "test_poll_growing",
    steps: [
      {
        name: "third_time",
        kind: "poll",
        timeoutMs: 60_000,
        pollPolicy: { intervalMs: 20, backoffFactor: 2, maxIntervalMs: 100 },
        run: async () => ({ state: { asked: 0 } }),
        poll: async (ctx) => {
          const asked = Number(ctx.pollState?.asked) + 1;
          return asked < 3 ? { status: "pending", state: { asked } } : { status: "done", output: { asked } };
        },
      },
    ],
  }),
);
/** Done only once its deadline has passed: completes only if the engine checks once more at the deadline. */
workflowRegistry.register(
  defineWorkflow({
    kind: "test_poll_final_check",
    steps: [
      {
        name: "just_in_time",
        kind: "poll",
        timeoutMs: 300,
        retry: { maxAttempts: 1, initialDelayMs: 10, backoffFactor: 1, maxDelayMs: 10, jitter: 0 },
        pollPolicy: { intervalMs: 40, backoffFactor: 2, maxIntervalMs: 80 },
        run: async () => ({ state: { readyAt: Date.now() + 300 } }),
        poll: async (ctx) => (Date.now() >= Number(ctx.pollState?.readyAt) ? { status: "done" } : { status: "pending" }),
      },
    ],
  }),
);

/** Text that must survive the worker round's inlined literals (src/engine/sql/round.ts) intact. */
const AWKWARD = `it's a \\ back'slash '' ?, $1 ? :x; commit; -- "quoted" \u00e9\u2603 \n new line`;
let awkwardTries = 0;
workflowRegistry.register(
  defineWorkflow({
    kind: "test_awkward_text",
    steps: [
      {
        name: "odd",
        kind: "action",
        retry: { maxAttempts: 2, initialDelayMs: 10, backoffFactor: 1, maxDelayMs: 10, jitter: 0 },
        run: async (ctx) => {
          if (++awkwardTries === 1) throw new Error(AWKWARD);
          return { output: { text: AWKWARD, input: ctx.input.text ?? null } };
        },
      },
      { name: "next", kind: "action", run: async (ctx) => ({ output: { seen: ctx.outputs.odd?.text ?? null } }) },
    ],
  }),
);

describe("engine: action steps", () => {
  let t: TestGantry;
  let tenantId: string;
  beforeAll(async () => {
    t = await startTestGantry();
    tenantId = await createTenant(t);
  });
  afterAll(async () => {
    if (process.env.DUMP_LOGS) console.log(t.logs.filter((l) => /"level":(40|50)/.test(l)).join("\n"));
    await t.stop();
  });

  it("runs steps in order, hands outputs on, and seals secrets", async () => {
    const wf = await start(t, "test_actions", tenantId);
    expect(wf.status).toBe("PENDING");
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.completed"));
    expect(labels(events)).toEqual([
      "workflow.created",
      "step.started(one)",
      "step.completed(one)",
      "step.started(two)",
      "step.completed(two)",
      "workflow.completed",
    ]);
    const seqs = events.map((e) => e.sequence);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const rows = await t.db.query(`select name, status, output, secret_output from workflow_step where workflow_id = $1 order by position`, [wf.id]);
    expect(rows.map((r) => r.status)).toEqual(["COMPLETED", "COMPLETED"]);
    expect(rows[0]!.output).toEqual({ n: 1, password: "[redacted]" });
    expect(rows[0]!.secret_output).toMatch(/^gcm1\./);
    expect(rows[1]!.output).toEqual({ sum: 2 });
    expect(JSON.stringify(events)).not.toContain("hunter2");
  });

  it("keeps quotes, backslashes, question marks and non-ASCII text intact through a round", async () => {
    const wf = await start(t, "test_awkward_text", tenantId, { text: AWKWARD });
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.completed"));
    expect(events.find((e) => e.type === "step.retry_scheduled")?.payload.detail?.error).toBe(AWKWARD);
    const rows = await t.db.query(`select name, output from workflow_step where workflow_id = $1 order by position`, [wf.id]);
    expect(rows[0]!.output).toEqual({ text: AWKWARD, input: AWKWARD });
    expect(rows[1]!.output).toEqual({ seen: AWKWARD });
    expect(events.find((e) => e.type === "step.completed")?.payload.step?.output).toEqual({ text: AWKWARD, input: AWKWARD });
  });

  it("snapshots in events show the workflow row as committed (the round updates it with COMMIT)", async () => {
    const wf = await start(t, "test_actions", tenantId);
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.completed"));
    const [row] = await t.db.query(`select status, error, created_at, updated_at, completed_at from workflow where id = $1`, [wf.id]);
    const last = events.at(-1)!.payload.workflow!;
    expect(last).toMatchObject({
      status: "COMPLETED",
      error: null,
      createdAt: new Date(row!.created_at).toISOString(),
      updatedAt: new Date(row!.updated_at).toISOString(),
      completedAt: new Date(row!.completed_at).toISOString(),
    });
    // Each event shows the workflow as its own transaction left it: the last step's completion
    // commits with the workflow's.
    expect(events.map((e) => `${e.type}:${e.payload.workflow!.status}`)).toEqual([
      "workflow.created:PENDING",
      "step.started:RUNNING",
      "step.completed:RUNNING",
      "step.started:RUNNING",
      "step.completed:COMPLETED",
      "workflow.completed:COMPLETED",
    ]);
    const updated = events.map((e) => Date.parse(e.payload.workflow!.updatedAt));
    expect(updated).toEqual([...updated].sort((a, b) => a - b));
    expect(events.map((e) => e.payload.workflow!.completedAt)).toEqual(events.map((e) => (e.payload.workflow!.status === "COMPLETED" ? last.completedAt : null)));
    // The steps as committed, too.
    const steps = await t.db.query(
      `select id, status, attempt, retry_count, started_at, completed_at, next_attempt_at, error, output from workflow_step where workflow_id = $1 order by position`,
      [wf.id],
    );
    const iso = (v: unknown) => (v === null ? null : new Date(v as string).toISOString());
    expect(events.filter((e) => e.type === "step.completed").map((e) => e.payload.step)).toEqual(
      steps.map((s) =>
        expect.objectContaining({
          id: s.id,
          status: s.status,
          attempt: s.attempt,
          retryCount: s.retry_count,
          startedAt: iso(s.started_at),
          completedAt: iso(s.completed_at),
          nextAttemptAt: iso(s.next_attempt_at),
          error: s.error,
          output: s.output,
        }),
      ),
    );
  });

  it("retries with backoff and then succeeds", async () => {
    const wf = await start(t, "test_flaky", tenantId);
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.completed"));
    const retries = events.filter((e) => e.type === "step.retry_scheduled");
    expect(retries.map((e) => e.payload.detail?.error)).toEqual(["boom 1", "boom 2"]);
    expect(retries.map((e) => e.payload.detail?.delayMs)).toEqual([50, 100]);
    const done = events.find((e) => e.type === "step.completed")!;
    expect(done.payload.step!.attempt).toBe(3);
  });

  it("fails the workflow with the step's error when attempts are exhausted", async () => {
    const wf = await start(t, "test_exhaust", tenantId);
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.failed"));
    expect(labels(events)).toEqual([
      "workflow.created",
      "step.started(never)",
      "step.retry_scheduled(never)",
      "step.started(never)",
      "step.failed(never)",
      "workflow.failed",
    ]);
    const [row] = await t.db.query(`select status, error from workflow where id = $1`, [wf.id]);
    expect(row).toEqual({ status: "FAILED", error: "never: service unavailable" });
  });

  it("polls with a growing interval, recording every poll", async () => {
    const wf = await start(t, "test_poll_growing", tenantId);
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.completed"));
    const polls = events.filter((e) => e.type === "step.polled").map((e) => e.payload.detail);
    expect(polls).toEqual([
      { poll: 1, status: "pending", nextPollInMs: 40 },
      { poll: 2, status: "pending", nextPollInMs: 80 },
      { poll: 3, status: "done" },
    ]);
    expect(events.find((e) => e.type === "step.completed")?.payload.step?.output).toEqual({ asked: 3 });
  });

  it("fails a poll step still pending at its deadline, after a last recorded poll", async () => {
    const wf = await start(t, "test_poll_deadline", tenantId);
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.failed"));
    const polls = events.filter((e) => e.type === "step.polled");
    expect(polls.length).toBeGreaterThanOrEqual(1);
    expect(polls.map((e) => e.payload.detail?.poll)).toEqual(polls.map((_, i) => i + 1));
    expect(polls.at(-1)!.payload.detail).toMatchObject({ status: "pending", final: true, detail: { op: "x" } });
    expect(events.at(-1)!.payload.workflow.error).toBe("never_ready: not done by its deadline (1500 ms)");
  });

  it("checks once more at the deadline, so an operation done in time is not failed", async () => {
    const wf = await start(t, "test_poll_final_check", tenantId);
    const events = await eventsUntil(t, wf.id, (e) => e.type === "workflow.completed" || e.type === "workflow.failed");
    expect(events.at(-1)!.type).toBe("workflow.completed");
    expect(events.filter((e) => e.type === "step.polled").at(-1)!.payload.detail).toMatchObject({ status: "done" });
  });
});
