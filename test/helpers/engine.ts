/** Helpers for engine tests: tenants, starting workflows, awaiting workflow events. */
import { randomUUID } from "node:crypto";
import { systemEm } from "../../src/db/orm.js";
import { startWorkflow, type JsonObject, type WorkflowEventPayload, type WorkflowSnapshot } from "../../src/engine/index.js";
import type { StoredEvent } from "../../src/events/index.js";
import type { TestGantry } from "./server.js";

export async function createTenant(t: TestGantry, slug = `t-${randomUUID().slice(0, 8)}`): Promise<string> {
  const id = randomUUID();
  await t.db.query(`insert into tenant (id, slug, name) values ($1, $2, $2)`, [id, slug]);
  return id;
}

export async function start(
  t: TestGantry,
  kind: string,
  tenantId: string,
  input: JsonObject = {},
  serviceSlug?: string,
): Promise<WorkflowSnapshot> {
  return systemEm(t.gantry.services.orm).transactional((tem) => startWorkflow(tem, { kind, tenantId, input, serviceSlug }));
}

export type WorkflowEvent = StoredEvent & { payload: WorkflowEventPayload };

/**
 * Collects a workflow's events (from the beginning) until `until` matches one; resolves with all
 * of them. Rejects after `timeoutMs` with what was seen, so a hang reads as a clear failure.
 */
export async function eventsUntil(
  t: TestGantry,
  workflowId: string,
  until: (e: WorkflowEvent) => boolean,
  timeoutMs = 20_000,
): Promise<WorkflowEvent[]> {
  const seen: WorkflowEvent[] = [];
  const iterator = t.gantry.services.events.subscribe({ topics: [`workflow:${workflowId}`] }, 0);
  const timer = setTimeout(() => void iterator.return?.(), timeoutMs);
  try {
    for await (const event of iterator) {
      seen.push(event as WorkflowEvent);
      if (until(event as WorkflowEvent)) return seen;
    }
  } finally {
    clearTimeout(timer);
    await iterator.return?.();
  }
  throw new Error(`timed out; events so far: ${seen.map((e) => `${e.type}${e.payload.step ? `(${e.payload.step.name})` : ""}`).join(", ")}`);
}

export const isWorkflowEvent = (type: string) => (e: WorkflowEvent) => e.type === type && e.payload.step === null;

/** `type(step)` labels, for order assertions. */
export const labels = (events: WorkflowEvent[]) =>
  events.map((e) => (e.payload.step ? `${e.type}(${e.payload.step.name})` : e.type));
