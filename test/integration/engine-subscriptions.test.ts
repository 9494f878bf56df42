/**
 * Live workflow events over graphql-ws: in order with increasing sequence, resumable with
 * `since` (missed events exactly once), across server processes on one database, and scoped to
 * the caller's tenant.
 */
import { print } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "graphql-ws";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { createTenant, eventsUntil, isWorkflowEvent, start } from "../helpers/engine.js";
import { defineWorkflow, workflowRegistry } from "../../src/engine/index.js";
import { WorkflowChangedDocument, WorkflowStepChangedDocument, type WorkflowEventFieldsFragment } from "../../schema/generated/operations.js";

let gate: (() => void) | undefined;
let gateOpened: Promise<void> = Promise.resolve();
workflowRegistry.register(
  defineWorkflow({
    kind: "test_live",
    steps: [
      { name: "one", kind: "action", run: async () => ({ output: { n: 1 } }) },
      { name: "two", kind: "action", run: async () => void (await gateOpened) },
      { name: "three", kind: "action", run: async () => undefined },
    ],
  }),
);

type Ev = WorkflowEventFieldsFragment;

/** Subscribes and collects events until `until` matches; `stopAfter` ends early (simulating a drop). */
function collect(client: Client, query: string, variables: Record<string, unknown>, until: (e: Ev, all: Ev[]) => boolean, field: string) {
  const seen: Ev[] = [];
  let finished = false;
  return new Promise<Ev[]>((resolve, reject) => {
    let dispose: () => void = () => undefined;
    dispose = client.subscribe<Record<string, Ev>>(
      { query, variables },
      {
        next: (result) => {
          if (finished) return; // events already in flight when we unsubscribed
          if (result.errors?.length) return reject(Object.assign(new Error(result.errors[0]!.message), { errors: result.errors }));
          const event = result.data![field]!;
          seen.push(event);
          if (until(event, seen)) {
            finished = true;
            dispose();
            resolve(seen);
          }
        },
        error: (err) => reject(Array.isArray(err) ? Object.assign(new Error(String(err[0]?.message)), { errors: err }) : err),
        complete: () => resolve(seen),
      },
    );
  });
}

const label = (e: Ev) => (e.step ? `${e.type}(${e.step.name})` : e.type);

describe("engine: workflow subscriptions", () => {
  let a: TestGantry;
  let b: TestGantry;
  let tenantId: string;
  let token: string;
  let otherToken: string;

  beforeAll(async () => {
    a = await startTestGantry();
    b = await startTestGantry({ db: a.db, env: { GANTRY_ROLES: "api" } }); // a second api replica
    tenantId = await createTenant(a, "live-co");
    // Subscribers connect to server b, so their tokens are b's (each test server has its own secret).
    token = await b.tokenFor(tenantId);
    otherToken = await b.tokenFor(await createTenant(a, "live-other"));
  });
  afterAll(async () => {
    gate?.();
    await b.stop();
    await a.stop();
  });

  it("delivers every step change in order across servers, and replays missed events once after a reconnect", async () => {
    gateOpened = new Promise((r) => (gate = r));
    const wf = await start(a, "test_live", tenantId); // worked on by server a's worker
    const query = print(WorkflowStepChangedDocument);

    // Subscriber on server b sees events caused by server a; it drops after step one completes.
    const first = await collect(b.wsClient({ authorization: `Bearer ${token}` }), query, { workflowId: wf.id, since: 0 }, (e) => e.type === "step.completed" && e.step?.name === "one", "workflowStepChanged");
    expect(first.map(label)).toEqual(["workflow.created", "step.started(one)", "step.completed(one)"]);
    const lastSeen = first.at(-1)!.sequence;
    gate!(); // the workflow moves on while nobody listens
    await eventsUntil(a, wf.id, isWorkflowEvent("workflow.completed"));

    const resumed = await collect(b.wsClient({ authorization: `Bearer ${token}` }), query, { workflowId: wf.id, since: lastSeen }, (e) => e.type === "workflow.completed", "workflowStepChanged");
    expect(resumed.map(label)).toEqual(["step.started(two)", "step.completed(two)", "step.started(three)", "step.completed(three)", "workflow.completed"]);
    const all = [...first, ...resumed];
    const sequences = all.map((e) => e.sequence);
    expect(sequences.every((s, i) => i === 0 || s > sequences[i - 1]!)).toBe(true);
    const history = await eventsUntil(a, wf.id, isWorkflowEvent("workflow.completed"));
    expect(sequences).toEqual(history.map((e) => e.sequence));
    expect(resumed.at(-1)!.workflow.status).toBe("COMPLETED");
    expect(first[2]!.step).toMatchObject({ name: "one", status: "COMPLETED", attempt: 1, output: { n: 1 } });
  });

  it("workflowChanged: a tenant sees only its own workflows, an admin sees all", async () => {
    gateOpened = Promise.resolve();
    // Subscribe from the current head: everything after it is replayed or live, so no race.
    const [{ head }] = await a.db.query<{ head: string }>(`select coalesce(max(sequence), 0) as head from event`);
    const since = Number(head);
    const mineP = collect(b.wsClient({ authorization: `Bearer ${token}` }), print(WorkflowChangedDocument), { since }, (e) => e.type === "workflow.completed", "workflowChanged");
    const adminP = collect(b.wsClient({ "x-api-key": b.adminKey }), print(WorkflowChangedDocument), { since }, (_e, all) => all.filter((x) => x.type === "workflow.completed").length === 2, "workflowChanged");
    const other = await createTenant(a, "live-third");
    const foreign = await start(a, "test_live", other);
    await eventsUntil(a, foreign.id, isWorkflowEvent("workflow.completed"));
    const mine = await start(a, "test_live", tenantId);
    const [mineEvents, adminEvents] = await Promise.all([mineP, adminP]);
    expect(new Set(mineEvents.map((e) => e.workflow.id))).toEqual(new Set([mine.id]));
    expect(new Set(adminEvents.map((e) => e.workflow.id))).toEqual(new Set([foreign.id, mine.id]));
  });

  it("answers NOT_FOUND to a subscription on another tenant's workflow", async () => {
    const wf = await start(a, "test_live", tenantId);
    await expect(
      collect(b.wsClient({ authorization: `Bearer ${otherToken}` }), print(WorkflowStepChangedDocument), { workflowId: wf.id }, () => true, "workflowStepChanged"),
    ).rejects.toMatchObject({ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: "NOT_FOUND" }) })] });
  });
});
