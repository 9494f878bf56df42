/**
 * Results posted back by external services for callback steps. The token is looked up by its
 * SHA-256, used once, and must belong to the step's current attempt and not be expired; the
 * step then completes (or fails its attempt) through the same write path as a worker's result.
 */
import type { Orm } from "../db/orm.js";
import { systemEm } from "../db/orm.js";
import { sha256Hex } from "../crypto/index.js";
import { DomainError } from "../errors/index.js";
import { workflowRegistry, type WorkflowRegistry } from "./definitions.js";
import { failAttempt, REDACTED, sealResult } from "./execute.js";
import { useCallbackToken } from "./sql/callbackTokens.js";
import { exec } from "./sql/exec.js";
import { STEP_COLUMNS, WORKFLOW_COLUMNS, type StepRow, type WorkflowRow } from "./sql/rows.js";
import { applyTransitions, type Transition } from "./transitions.js";
import type { JsonObject, StepStatus } from "./types.js";

export interface CallbackReport {
  token: string;
  status: "success" | "failed";
  endpoint?: string | null;
  credentials?: unknown;
  error?: string | null;
  metadata?: JsonObject | null;
}

export interface CallbackOutcome {
  workflowId: string;
  step: string;
  stepStatus: StepStatus;
}

const REFUSED = {
  unknown: "Unknown callback token",
  used: "Callback token already used",
  expired: "Callback token expired",
  superseded: "Callback token belongs to an earlier attempt of the step",
} as const;

export async function completeCallback(
  orm: Orm,
  masterKey: Buffer,
  report: CallbackReport,
  registry: WorkflowRegistry = workflowRegistry,
): Promise<CallbackOutcome> {
  return systemEm(orm).transactional(async (tem) => {
    const use = await useCallbackToken(tem, sha256Hex(report.token));
    if (!use.ok) throw DomainError.unauthenticated(REFUSED[use.reason]);
    const [row] = await exec<StepRow & { w: WorkflowRow }>(
      tem,
      `select ${STEP_COLUMNS}, (select to_jsonb(x) from (select ${WORKFLOW_COLUMNS} from workflow w where w.id = s.workflow_id) x) as w
         from workflow_step s where s.id = ? for update`,
      [use.stepId],
    );
    if (!row || row.attempt !== use.attempt || (row.status !== "RUNNING" && row.status !== "WAITING_CALLBACK")) {
      throw DomainError.unauthenticated("Callback token is no longer valid: the step has moved on");
    }
    const { w, ...step } = row;
    const definition = registry.get(w.kind, w.service_slug).steps.find((s) => s.name === step.name);
    if (!definition) throw new Error(`no definition for step ${step.name} of ${w.kind}`);
    let transition: Transition;
    const received = { type: "step.callback_received", detail: { status: report.status, ...(report.metadata ? { metadata: report.metadata } : {}) } };
    if (report.status === "success") {
      const secret: JsonObject = {};
      if (report.endpoint != null) secret.endpoint = report.endpoint;
      if (report.credentials != null) secret.credentials = report.credentials;
      const { output, secretOutput } = sealResult(masterKey, step.id, { output: { metadata: report.metadata ?? {} }, secret });
      transition = {
        from: step,
        set: { status: "COMPLETED", completedAt: new Date(), dueAt: null, nextAttemptAt: null, error: null, output, secretOutput },
        events: [received, { type: "step.completed" }],
        then: { kind: "advance" },
      };
    } else {
      transition = failAttempt(step, definition, report.error?.trim() || "the service reported a failure", "run");
      transition.events.unshift(received);
    }
    const applied = await applyTransitions(tem, registry, [transition]);
    if (applied.steps.length === 0) throw DomainError.conflict("The step changed while the callback was applied; retry");
    return { workflowId: step.workflow_id, step: step.name, stepStatus: applied.steps[0]!.status };
  });
}

export { REDACTED };
