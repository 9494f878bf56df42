import { describe, expect, it } from "vitest";
import { projectTenant, type PipelineSnapshot } from "../../src/tenants/projection.js";

const steps = (statuses: string[], errors: Record<number, string> = {}) =>
  statuses.map((status, i) => ({ name: `step_${i + 1}`, position: i + 1, status, attempt: 1, error: errors[i + 1] ?? null }));

describe("tenant projection of the provisioning workflow", () => {
  it("is PROVISIONING with the completed steps while the pipeline runs", () => {
    const wf: PipelineSnapshot = { status: "RUNNING", error: null, steps: steps(["COMPLETED", "COMPLETED", "RUNNING", ...Array(6).fill("PENDING")]) };
    expect(projectTenant(wf)).toEqual({ provisioningState: "PROVISIONING", completedSteps: ["step_1", "step_2"], failedSteps: [], lastError: null });
  });

  it("is FAILED naming the failed step and its error", () => {
    const wf: PipelineSnapshot = {
      status: "FAILED",
      error: "step_3: Migration 027b failed: boom",
      steps: steps(["COMPLETED", "COMPLETED", "FAILED", ...Array(6).fill("PENDING")], { 3: "Migration 027b failed: boom" }),
    };
    expect(projectTenant(wf)).toEqual({
      provisioningState: "FAILED",
      completedSteps: ["step_1", "step_2"],
      failedSteps: ["step_3"],
      lastError: "step_3: Migration 027b failed: boom",
    });
  });

  it("keeps the last error visible while a retry is pending, and clears it on success", () => {
    const retrying: PipelineSnapshot = { status: "RUNNING", error: null, steps: steps(["COMPLETED", "PENDING"], { 2: "timeout" }) };
    expect(projectTenant(retrying).lastError).toBe("step_2: timeout");
    const done: PipelineSnapshot = { status: "COMPLETED", error: null, steps: steps(Array(9).fill("COMPLETED")) };
    expect(projectTenant(done)).toMatchObject({ provisioningState: "ACTIVE", failedSteps: [], lastError: null });
    expect(projectTenant(done).completedSteps).toHaveLength(9);
  });

  it("is FAILED after a rollback, with nothing completed", () => {
    const wf: PipelineSnapshot = { status: "ROLLED_BACK", error: "step_3: x", steps: steps(["COMPENSATED", "COMPENSATED", "COMPENSATED"]) };
    expect(projectTenant(wf)).toMatchObject({ provisioningState: "FAILED", completedSteps: [], failedSteps: [] });
  });
});
