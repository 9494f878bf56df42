/**
 * Drawing a tenant's pipeline for the terminal: a progress bar over the nine steps and one line
 * per step. Pure functions of the state, so they are tested without a terminal.
 */
export interface StepView {
  name: string;
  title: string;
  status: string;
  attempt: number;
  error: string | null;
}

export interface PipelineView {
  slug: string;
  provisioningState: string;
  lastError: string | null;
  steps: StepView[];
}

const MARK: Record<string, string> = {
  COMPLETED: "✔",
  RUNNING: "▶",
  FAILED: "✘",
  COMPENSATION_FAILED: "✘",
  COMPENSATING: "↺",
  COMPENSATED: "↺",
  SKIPPED: "–",
};

export function progressBar(done: number, total: number, width = 27): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * width);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${done}/${total}`;
}

export function completedCount(view: PipelineView): number {
  return view.steps.filter((s) => s.status === "COMPLETED").length;
}

/** The full block: a header with the bar, then every step. */
export function renderPipeline(view: PipelineView): string[] {
  const lines = [`Tenant ${view.slug}: ${view.provisioningState}  ${progressBar(completedCount(view), view.steps.length)}`];
  for (const step of view.steps) {
    const retry = step.status === "PENDING" && step.error ? ` (retrying: ${step.error})` : "";
    const attempt = step.status === "RUNNING" && step.attempt > 1 ? ` (attempt ${step.attempt})` : "";
    const failure = MARK[step.status] === "✘" && step.error ? ` — ${step.error}` : "";
    lines.push(`  ${MARK[step.status] ?? "·"} ${step.name}  ${step.title}${attempt}${retry}${failure}`);
  }
  if (view.provisioningState === "FAILED" && view.lastError) lines.push(`error: ${view.lastError}`);
  return lines;
}

/** One line for logs and pipes (no terminal control): the bar and the step in motion. */
export function renderLine(view: PipelineView): string {
  const moving = view.steps.find((s) => s.status !== "COMPLETED" && s.status !== "PENDING") ?? view.steps.find((s) => s.status === "PENDING");
  const current = moving ? `  ${moving.name} ${moving.status}` : "";
  return `${view.slug} ${view.provisioningState} ${progressBar(completedCount(view), view.steps.length, 9)}${current}`;
}
