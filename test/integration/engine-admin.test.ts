/** Operator actions: retry a failed step, force-complete, roll back (reverse order), cancel. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { createTenant, eventsUntil, isWorkflowEvent, labels, start } from "../helpers/engine.js";
import { defineWorkflow, workflowRegistry } from "../../src/engine/index.js";
import {
  AdminWorkflowsDocument,
  CancelWorkflowDocument,
  ForceCompleteWorkflowDocument,
  RetryWorkflowStepDocument,
  RollbackWorkflowDocument,
  WorkflowDocument,
} from "../../schema/generated/operations.js";

const once = { maxAttempts: 1, initialDelayMs: 10, backoffFactor: 2, maxDelayMs: 50, jitter: 0 };
let broken = true;
const compensated: string[] = [];
const undoable = (name: string) => ({
  name,
  kind: "action" as const,
  retry: once,
  run: async () => ({ output: { made: name } }),
  compensate: async () => void compensated.push(name),
});

workflowRegistry.register(
  defineWorkflow({
    kind: "test_admin_retry",
    steps: [
      { name: "first", kind: "action", run: async () => undefined },
      {
        name: "fragile",
        kind: "action",
        retry: once,
        run: async () => {
          if (broken) throw new Error("disk full");
          return { output: { ok: true } };
        },
      },
      { name: "last", kind: "action", run: async () => undefined },
    ],
  }),
);
workflowRegistry.register(defineWorkflow({ kind: "test_admin_saga", steps: [undoable("a"), undoable("b"), undoable("c")] }));
workflowRegistry.register(
  defineWorkflow({
    kind: "test_admin_waiting",
    steps: [
      { name: "start", kind: "action", run: async () => undefined },
      { name: "approval", kind: "callback", timeoutMs: 600_000, run: async () => undefined },
      { name: "after", kind: "action", run: async () => undefined },
    ],
  }),
);

describe("engine: admin actions", () => {
  let t: TestGantry;
  let tenantId: string;
  let tenantToken: string;
  beforeAll(async () => {
    t = await startTestGantry();
    tenantId = await createTenant(t, "admin-ops");
    tenantToken = await t.tokenFor(tenantId);
  });
  afterAll(() => t.stop());

  it("retries a FAILED step (retryCount + 1) and runs the workflow on; records key id and reason", async () => {
    const wf = await start(t, "test_admin_retry", tenantId);
    await eventsUntil(t, wf.id, isWorkflowEvent("workflow.failed"));
    const early = await t.gql(RetryWorkflowStepDocument, { workflowId: wf.id, stepName: "last", reason: "x" }, t.admin);
    expect(early.errors?.[0]?.extensions?.code).toBe("CONFLICT");
    const forbidden = await t.gql(RetryWorkflowStepDocument, { workflowId: wf.id, stepName: "fragile" }, { token: tenantToken });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

    broken = false;
    const res = await t.gql(RetryWorkflowStepDocument, { workflowId: wf.id, stepName: "fragile", reason: "disk cleaned" }, t.admin);
    expect(res.errors).toBeUndefined();
    const fragile = res.data!.retryWorkflowStep.steps.find((s) => s.name === "fragile")!;
    expect(fragile).toMatchObject({ status: "PENDING", retryCount: 1, error: null });
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.completed"));
    const retried = events.find((e) => e.type === "step.retried")!;
    expect(retried.payload.detail).toEqual({ adminKeyId: expect.any(String), reason: "disk cleaned" });
    const viewer = await t.gql("{ viewer { adminKeyId } }", {}, t.admin);
    expect(retried.payload.detail!.adminKeyId).toBe((viewer.data as { viewer: { adminKeyId: string } }).viewer.adminKeyId);
    expect(labels(events).slice(-4)).toEqual(["step.completed(fragile)", "step.started(last)", "step.completed(last)", "workflow.completed"]);
  });

  it("rolls back: compensations of completed steps in reverse order, each with its own state", async () => {
    const wf = await start(t, "test_admin_saga", tenantId);
    await eventsUntil(t, wf.id, isWorkflowEvent("workflow.completed"));
    const res = await t.gql(RollbackWorkflowDocument, { id: wf.id, reason: "customer left" }, t.admin);
    expect(res.data!.rollbackWorkflow.status).toBe("ROLLING_BACK");
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.rolled_back"));
    expect(compensated).toEqual(["c", "b", "a"]);
    expect(labels(events).filter((l) => l.startsWith("step.compensat"))).toEqual([
      "step.compensating(c)",
      "step.compensated(c)",
      "step.compensating(b)",
      "step.compensated(b)",
      "step.compensating(a)",
      "step.compensated(a)",
    ]);
    const detail = await t.gql(WorkflowDocument, { id: wf.id }, t.admin);
    expect(detail.data!.workflow.status).toBe("ROLLED_BACK");
    expect(detail.data!.workflow.steps.map((s) => s.status)).toEqual(["COMPENSATED", "COMPENSATED", "COMPENSATED"]);
    const again = await t.gql(RollbackWorkflowDocument, { id: wf.id }, t.admin);
    expect(again.errors?.[0]?.extensions?.code).toBe("CONFLICT");
  });

  it("force-completes a waiting workflow: unfinished steps SKIPPED", async () => {
    const wf = await start(t, "test_admin_waiting", tenantId);
    await eventsUntil(t, wf.id, (e) => e.type === "step.waiting_callback");
    const res = await t.gql(ForceCompleteWorkflowDocument, { id: wf.id, reason: "done by hand" }, t.admin);
    expect(res.errors).toBeUndefined();
    expect(res.data!.forceCompleteWorkflow.status).toBe("COMPLETED");
    expect(res.data!.forceCompleteWorkflow.steps.map((s) => s.status)).toEqual(["COMPLETED", "SKIPPED", "SKIPPED"]);
    const events = await eventsUntil(t, wf.id, isWorkflowEvent("workflow.force_completed"));
    expect(events.at(-1)!.payload.detail).toMatchObject({ reason: "done by hand" });
    const again = await t.gql(ForceCompleteWorkflowDocument, { id: wf.id }, t.admin);
    expect(again.errors?.[0]?.extensions?.code).toBe("CONFLICT");
  });

  it("cancels a workflow; its pending callback token stops working; cancel twice is CONFLICT", async () => {
    const wf = await start(t, "test_admin_waiting", tenantId);
    await eventsUntil(t, wf.id, (e) => e.type === "step.waiting_callback");
    const res = await t.gql(CancelWorkflowDocument, { id: wf.id, reason: "no longer needed" }, t.admin);
    expect(res.data!.cancelWorkflow.status).toBe("CANCELLED");
    expect(res.data!.cancelWorkflow.steps.map((s) => s.status)).toEqual(["COMPLETED", "SKIPPED", "SKIPPED"]);
    const again = await t.gql(CancelWorkflowDocument, { id: wf.id }, t.admin);
    expect(again.errors?.[0]).toMatchObject({ extensions: { code: "CONFLICT" } });
    const missing = await t.gql(CancelWorkflowDocument, { id: "00000000-0000-4000-8000-000000000000" }, t.admin);
    expect(missing.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("lists workflows across tenants for admins only (Relay, filtered)", async () => {
    const other = await createTenant(t, "admin-ops-2");
    await start(t, "test_admin_saga", other);
    const all = await t.gql(AdminWorkflowsDocument, { first: 2 }, t.admin);
    expect(all.data!.adminWorkflows.edges).toHaveLength(2);
    expect(all.data!.adminWorkflows.pageInfo.hasNextPage).toBe(true);
    const next = await t.gql(AdminWorkflowsDocument, { first: 100, after: all.data!.adminWorkflows.pageInfo.endCursor }, t.admin);
    const ids = [...all.data!.adminWorkflows.edges, ...next.data!.adminWorkflows.edges].map((e) => e.node.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(5);
    const filtered = await t.gql(AdminWorkflowsDocument, { filter: { tenantId: other } }, t.admin);
    expect(filtered.data!.adminWorkflows.edges.map((e) => e.node.tenantId)).toEqual([other]);
    const cancelled = await t.gql(AdminWorkflowsDocument, { filter: { status: "CANCELLED" } }, t.admin);
    expect(cancelled.data!.adminWorkflows.edges).toHaveLength(1);
    const tenant = await t.gql(AdminWorkflowsDocument, {}, { token: tenantToken });
    expect(tenant.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    for (const doc of [ForceCompleteWorkflowDocument, RollbackWorkflowDocument, CancelWorkflowDocument] as TypedDocumentNode<unknown, { id: string }>[]) {
      const denied = await t.gql(doc, { id: ids[0]! }, { token: tenantToken });
      expect(denied.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
  });
});
