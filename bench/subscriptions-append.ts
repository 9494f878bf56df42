/**
 * The event writer of the subscriptions scenario, a separate process (forked, IPC): commits step
 * events through `appendEvents` — the engine's own path (one INSERT under the event lock, NOTIFY
 * at commit) — at a fixed rate, `rate / 100` events per transaction every 10 ms (up to 4 transactions in flight), and reports each
 * event's sequence and the monotonic time its COMMIT returned.
 *   setup {url, workflows} → {setup, tenantId, workflowIds}; warm → {warmed}; run {rate, seconds} → RunResult
 */
import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { initOrm, systemEm, type Orm } from "../src/db/orm.js";
import { appendEvents, type NewEvent } from "../src/events/index.js";
import { defineWorkflow, startWorkflow, WorkflowRegistry } from "../src/engine/index.js";
import { monotonicMs, stepEvent, STEPS, TICK_MS, type RunCommand, type RunResult } from "./subscriptions-payload.js";

const IN_FLIGHT = 4;
let orm: Orm;
let tenantId = "";
let workflowIds: string[] = [];
/** Next step-event number per workflow, so each workflow's events cycle through its steps. */
let counters: number[] = [];
let next = 0;

const send = (message: unknown) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

async function setup(url: string, workflows: number): Promise<void> {
  orm = await initOrm({ clientUrl: url, poolMax: 4, log: pino({ level: "warn" }) });
  tenantId = randomUUID();
  await orm.em.getConnection().execute(`insert into tenant (id, slug, name) values (?, 'bench', 'Bench')`, [tenantId]);
  const registry = new WorkflowRegistry();
  registry.register(
    defineWorkflow({
      kind: "bench_watch",
      steps: Array.from({ length: STEPS }, (_, i) => ({ name: `s${i + 1}`, kind: "action" as const, run: async () => undefined })),
    }),
  );
  for (let i = 0; i < workflows; i += 100) {
    await systemEm(orm).transactional(async (tem) => {
      for (let j = i; j < Math.min(workflows, i + 100); j++) {
        workflowIds.push((await startWorkflow(tem, { kind: "bench_watch", tenantId }, registry)).id);
      }
    });
  }
  counters = workflowIds.map(() => 0);
}

function eventFor(w: number): NewEvent {
  const { type, payload } = stepEvent(workflowIds[w]!, tenantId, counters[w]!++, new Date());
  return { tenantId, topic: `workflow:${workflowIds[w]}`, type, payload: payload as unknown as Record<string, unknown> };
}

/** Commits `indexes.length` events (workflow indexes) in one transaction; returns their sequences. */
async function commit(indexes: number[]): Promise<{ sequences: number[]; at: number }> {
  const stored = await systemEm(orm).transactional((tem) => appendEvents(tem, indexes.map(eventFor)));
  return { sequences: stored.map((e) => e.sequence), at: monotonicMs() };
}

/** One event for every workflow (subscribers count themselves live when they see theirs). */
async function warm(): Promise<void> {
  for (let i = 0; i < workflowIds.length; i += 500) {
    await commit(workflowIds.slice(i, i + 500).map((_, j) => i + j));
  }
}

async function runAtRate({ rate, seconds }: RunCommand): Promise<RunResult> {
  const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
  const ticks = Math.round((seconds * 1000) / TICK_MS);
  const result: RunResult = { type: "ran", sequences: [], committedAt: [], workflowIndex: [], seconds: 0 };
  const started = monotonicMs();
  // Up to IN_FLIGHT transactions at once (the pool's size), as several engine workers would:
  // a slow commit then delays the next ones less. Sequences still follow commit order.
  const inFlight = new Set<Promise<void>>();
  for (let t = 0; t < ticks; t++) {
    // Fixed schedule: a slow commit is caught up by the next ticks rather than lowering the rate.
    const wait = started + t * TICK_MS - monotonicMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    const indexes = Array.from({ length: perTick }, () => next++ % workflowIds.length);
    const tick: Promise<void> = commit(indexes).then(({ sequences, at }) => {
      inFlight.delete(tick);
      sequences.forEach((s, i) => {
        result.sequences.push(s);
        result.committedAt.push(at);
        result.workflowIndex.push(indexes[i]!);
      });
    });
    inFlight.add(tick);
  }
  await Promise.all(inFlight);
  result.seconds = (monotonicMs() - started) / 1000;
  return result;
}

process.on("message", (message: { type: string; url?: string; workflows?: number } & Partial<Omit<RunCommand, "type">>) => {
  void (async () => {
    try {
      if (message.type === "setup") {
        await setup(message.url!, message.workflows!);
        await send({ type: "setup", tenantId, workflowIds });
      } else if (message.type === "warm") {
        await warm();
        await send({ type: "warmed" });
      } else if (message.type === "run") {
        await send(await runAtRate(message as RunCommand));
      } else if (message.type === "stop") {
        await orm?.close(true);
        process.exit(0);
      }
    } catch (err) {
      await send({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  })();
});
await send({ type: "ready" });
