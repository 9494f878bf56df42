import { describe, expect, it } from "vitest";
import { WebhookConnectorLookup } from "../../src/connectors/webhook-lookup.js";
import type { WebhookConnectorRow } from "../../src/connectors/sql/findWebhookConnectors.js";

/** A reader whose reads finish when the test says so (the grouping is what is under test). */
function gatedReader() {
  const reads: Array<{ ids: string[]; finish(): void }> = [];
  let started: () => void = () => undefined;
  const reader = (ids: readonly string[]) =>
    new Promise<WebhookConnectorRow[]>((resolve) => {
      reads.push({ ids: [...ids], finish: () => resolve(ids.map((id) => ({ id, tenant_id: "t", webhook_secret_envelope: `e-${id}` }))) });
      started();
    });
  const nextRead = () => new Promise<void>((resolve) => (started = resolve));
  return { reads, reader, nextRead };
}

describe("WebhookConnectorLookup", () => {
  it("groups lookups that arrive while two reads are in flight into one read", async () => {
    const { reads, reader, nextRead } = gatedReader();
    const lookup = new WebhookConnectorLookup(reader);
    let read = nextRead();
    const a = lookup.find("a");
    await read;
    read = nextRead();
    const b = lookup.find("b");
    await read;
    // Two reads in flight: these wait, together, for one of them.
    const waiting = ["c", "d", "c", "e"].map((id) => lookup.find(id));
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toHaveLength(2);
    read = nextRead();
    reads[0]!.finish();
    await read;
    expect(reads.map((r) => r.ids)).toEqual([["a"], ["b"], ["c", "d", "e"]]);
    reads[1]!.finish();
    reads[2]!.finish();
    expect((await a)?.id).toBe("a");
    expect((await b)?.id).toBe("b");
    expect((await Promise.all(waiting)).map((row) => row?.webhook_secret_envelope)).toEqual(["e-c", "e-d", "e-c", "e-e"]);
  });

  it("answers null for an id the read did not find, and rejects the group's lookups when the read fails", async () => {
    const missing = new WebhookConnectorLookup(async () => []);
    expect(await missing.find("x")).toBeNull();
    const failing = new WebhookConnectorLookup(async () => {
      throw new Error("connection lost");
    });
    await expect(Promise.all([failing.find("x"), failing.find("y")])).rejects.toThrow("connection lost");
  });
});
