import { describe, expect, it } from "vitest";
import { defineWorkflow, pollIntervalMs, retryDelayMs, WorkflowRegistry } from "../../src/engine/index.js";
import { loadServiceCatalogue, parseCatalogue } from "../../src/services/catalogue.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

describe("retry and poll policies", () => {
  const policy = { maxAttempts: 5, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 1000, jitter: 0 };
  it("backs off exponentially up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(policy, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it("spreads delays by ±jitter, never past the cap", () => {
    const jittery = { ...policy, jitter: 0.5 };
    expect(retryDelayMs(jittery, 2, () => 0)).toBe(100);
    expect(retryDelayMs(jittery, 2, () => 1)).toBe(300);
    expect(retryDelayMs(jittery, 5, () => 1)).toBe(1000);
  });
  it("grows poll intervals by the factor up to the cap", () => {
    expect([1, 2, 3, 4].map((n) => pollIntervalMs({ intervalMs: 100, backoffFactor: 3, maxIntervalMs: 500 }, n))).toEqual([100, 300, 500, 500]);
  });
});

describe("workflow definitions", () => {
  const run = async () => undefined;
  it("refuses duplicate names, bad names and poll steps without poll()", () => {
    expect(() => defineWorkflow({ kind: "k", steps: [{ name: "a", kind: "action", run }, { name: "a", kind: "action", run }] })).toThrow(/duplicate/);
    expect(() => defineWorkflow({ kind: "k", steps: [{ name: "Bad Name", kind: "action", run }] })).toThrow(/name must match/);
    expect(() => defineWorkflow({ kind: "k", steps: [{ name: "p", kind: "poll", run }] })).toThrow(/poll\(\)/);
  });
  it("finds the service-specific definition before the kind's", () => {
    const registry = new WorkflowRegistry();
    registry.register({ kind: "k", steps: [{ name: "generic", kind: "action", run }] });
    registry.register({ kind: "k", serviceSlug: "svc", steps: [{ name: "special", kind: "action", run }] });
    expect(registry.get("k", "svc").steps[0]!.name).toBe("special");
    expect(registry.get("k", "other").steps[0]!.name).toBe("generic");
    expect(registry.get("k").steps[0]!.retry.maxAttempts).toBe(5);
  });
});

describe("services catalogue", () => {
  const step = { name: "s", kind: "action", url: "https://x.example/a" };
  it("names the bad entry", () => {
    expect(() => parseCatalogue({ services: [{ slug: "ok-svc", name: "Ok", steps: [step] }, { slug: "Bad", name: "x", steps: [step] }] })).toThrow(
      /^services\[1\] \(Bad\): slug must match/,
    );
    expect(() => parseCatalogue({ services: [{ slug: "svc-a", name: "A", steps: [{ ...step, kind: "poll" }] }] })).toThrow(
      /^services\[0\] \(svc-a\)\.steps\[0\]: poll steps need statusUrl/,
    );
    expect(() => parseCatalogue({ services: [{ slug: "svc-a", name: "A", steps: [{ ...step, retry: { tries: 3 } }] }] })).toThrow(/unknown key "tries"/);
    expect(() => parseCatalogue({ services: {} })).toThrow(/"services" array/);
  });
  it("fails start-up with one ConfigError naming GANTRY_SERVICES and the file", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "svc-")), "services.json");
    fs.writeFileSync(file, "{ nope");
    expect(() => loadServiceCatalogue(file)).toThrow(new RegExp(`^GANTRY_SERVICES: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: invalid JSON`));
  });
  it("loads the documented example by default", () => {
    const catalogue = loadServiceCatalogue(undefined);
    expect(catalogue.file).toMatch(/docs\/services\.example\.json$/);
    expect(catalogue.get("analytics-db")!.steps.map((s) => s.kind)).toEqual(["action", "callback", "poll"]);
  });
});
