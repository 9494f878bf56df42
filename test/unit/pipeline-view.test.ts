import { describe, expect, it } from "vitest";
import { progressBar, renderLine, renderPipeline, type PipelineView } from "../../src/cli/pipeline-view.js";

const view = (statuses: string[], extra: Partial<PipelineView> = {}): PipelineView => ({
  slug: "acme",
  provisioningState: "PROVISIONING",
  lastError: null,
  steps: statuses.map((status, i) => ({ name: `step_${i + 1}`, title: `Title ${i + 1}`, status, attempt: 1, error: null })),
  ...extra,
});

describe("pipeline view", () => {
  it("draws a bar proportional to the completed steps", () => {
    expect(progressBar(0, 9, 9)).toBe("[░░░░░░░░░] 0/9");
    expect(progressBar(3, 9, 9)).toBe("[███░░░░░░] 3/9");
    expect(progressBar(9, 9, 9)).toBe("[█████████] 9/9");
  });

  it("marks each step and the one in motion", () => {
    const v = view(["COMPLETED", "COMPLETED", "RUNNING", "PENDING"]);
    const lines = renderPipeline(v);
    expect(lines[0]).toMatch(/^Tenant acme: PROVISIONING {2}\[.*\] 2\/4$/);
    expect(lines.slice(1)).toEqual(["  ✔ step_1  Title 1", "  ✔ step_2  Title 2", "  ▶ step_3  Title 3", "  · step_4  Title 4"]);
    expect(renderLine(v)).toBe("acme PROVISIONING [█████░░░░] 2/4  step_3 RUNNING");
  });

  it("shows a failure and the tenant's last error", () => {
    const v = view(["COMPLETED", "FAILED"], { provisioningState: "FAILED", lastError: "step_2: boom" });
    v.steps[1]!.error = "boom";
    const lines = renderPipeline(v);
    expect(lines).toContain("  ✘ step_2  Title 2 — boom");
    expect(lines.at(-1)).toBe("error: step_2: boom");
  });
});
