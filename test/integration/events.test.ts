import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendEvents, EventBus, wake, type NewEvent, type StoredEvent } from "../../src/events/index.js";
import { systemEm } from "../../src/db/orm.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";

async function take(iter: AsyncIterator<StoredEvent>, n: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  while (out.length < n) {
    const { value, done } = await iter.next();
    if (done) break;
    out.push(value);
  }
  return out;
}

function event(topic: string, type: string, tenantId: string | null = null): NewEvent {
  return { tenantId, topic, type, payload: { type } };
}

describe("event log and bus", () => {
  let a: TestGantry;
  let b: TestGantry;
  const append = (t: TestGantry, events: NewEvent[]) =>
    systemEm(t.gantry.services.orm).transactional((tem) => appendEvents(tem, events));

  beforeAll(async () => {
    a = await startTestGantry();
    b = await startTestGantry({ db: a.db }); // a second replica on the same database
  });
  afterAll(async () => {
    await b.stop();
    await a.stop();
  });

  it("refuses to append outside a transaction", async () => {
    await expect(appendEvents(systemEm(a.gantry.services.orm), [event("t:x", "X")])).rejects.toThrow(/transaction/);
  });

  it("delivers committed events live, never rolled-back ones, in order", async () => {
    const topic = `t:${randomUUID()}`;
    const iter = a.gantry.services.events.subscribe({ topics: [topic] });
    await expect(
      systemEm(a.gantry.services.orm).transactional(async (tem) => {
        await appendEvents(tem, [event(topic, "ROLLED_BACK")]);
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    await append(a, [event(topic, "ONE"), event(topic, "TWO")]);
    const got = await take(iter, 2);
    expect(got.map((e) => e.type)).toEqual(["ONE", "TWO"]);
    expect(got[1]!.sequence).toBeGreaterThan(got[0]!.sequence);
    await iter.return!();
  });

  it("reaches a subscriber on another replica", async () => {
    const topic = `t:${randomUUID()}`;
    const iter = b.gantry.services.events.subscribe({ topics: [topic] });
    await append(a, [event(topic, "FROM_A")]);
    expect((await take(iter, 1))[0]!.type).toBe("FROM_A");
    await iter.return!();
  });

  it("replays what a reconnecting subscriber missed exactly once, then goes live", async () => {
    const topic = `t:${randomUUID()}`;
    const [first] = await append(a, [event(topic, "E1")]);
    await append(a, [event(topic, "E2"), event(topic, "E3")]);
    const iter = b.gantry.services.events.subscribe({ topics: [topic] }, first!.sequence);
    await append(a, [event(topic, "E4")]);
    const got = await take(iter, 3);
    expect(got.map((e) => e.type)).toEqual(["E2", "E3", "E4"]);
    await iter.return!();
  });

  it("keeps tenants apart", async () => {
    const [t1, t2] = [randomUUID(), randomUUID()];
    const iter = a.gantry.services.events.subscribe({ tenantId: t1, topicPrefix: "iso:" });
    await append(a, [event("iso:1", "OTHER", t2), event("iso:1", "MINE", t1)]);
    expect((await take(iter, 1)).map((e) => e.type)).toEqual(["MINE"]);
    await iter.return!();
  });

  it("numbers concurrent writers' events in commit order with nothing skipped", async () => {
    const topic = `t:${randomUUID()}`;
    const iter = b.gantry.services.events.subscribe({ topics: [topic] });
    await Promise.all(Array.from({ length: 20 }, (_, i) => append(a, [event(topic, `W${i}`), event(topic, `W${i}b`)])));
    const got = await take(iter, 40);
    const sequences = got.map((e) => e.sequence);
    expect([...sequences].sort((x, y) => x - y)).toEqual(sequences);
    const stored = await a.db.query<{ sequence: string }>(`select sequence from event where topic = $1 order by sequence`, [topic]);
    expect(sequences).toEqual(stored.map((r) => Number(r.sequence)));
    await iter.return!();
  });

  it("wakes in-process subscribers at commit without LISTEN (the embedded database's path)", async () => {
    const { orm, log } = a.gantry.services;
    const local = new EventBus(orm, log, { pollMs: 3_600_000 }); // no listenUrl, poll never fires
    await local.start();
    try {
      const topic = `t:${randomUUID()}`;
      const iter = local.subscribe({ topics: [topic] });
      await append(a, [event(topic, "LOCAL")]);
      expect((await take(iter, 1))[0]!.type).toBe("LOCAL");
    } finally {
      await local.stop();
    }
  });

  it("wakes listeners in every process after commit", async () => {
    const woke = new Promise<void>((resolve) => {
      const off = b.gantry.services.events.onWake("test_channel", () => {
        off();
        resolve();
      });
    });
    await systemEm(a.gantry.services.orm).transactional((tem) => wake(tem, "test_channel"));
    await woke;
  });
});
