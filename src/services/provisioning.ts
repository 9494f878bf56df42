/**
 * Service provisioning: each catalogue entry becomes a `service_provisioning` workflow
 * definition whose steps call the service over HTTP.
 *
 * The wire contract (also in docs/services.example.json): every call is a JSON POST with
 * `Idempotency-Key: <workflow id>:<step>:<attempt>` and the body
 * `{ workflow_id, tenant_id, service, step, attempt, input }`, plus for callback steps
 * `callback_url`, `callback_token`, `expires_at`. A 2xx answer is success (its JSON object is the
 * step output; `endpoint` and `credentials` in it are sealed as secrets). A poll step's start
 * answers `{ operation_id }`; its status URL answers `{ status: "pending" | "done" | "failed",
 * error?, endpoint?, credentials?, … }`.
 */
import type { EntityManager } from "../db/orm.js";
import { DomainError } from "../errors/index.js";
import {
  defineWorkflow,
  startWorkflow,
  workflowRegistry,
  type JsonObject,
  type StepContext,
  type StepDefinition,
  type StepResult,
  type WorkflowRegistry,
  type WorkflowSnapshot,
} from "../engine/index.js";
import type { ServiceCatalogue, ServiceSpec, ServiceStepSpec } from "./catalogue.js";
import { latestServiceWorkflow } from "../engine/queries.js";

export const SERVICE_PROVISIONING = "service_provisioning";
const SECRET_FIELDS = ["endpoint", "credentials"];

function describe(url: string): string {
  const u = new URL(url);
  return `${u.host}${u.pathname}`;
}

async function call(method: "GET" | "POST", url: string, ctx: StepContext, body?: JsonObject): Promise<JsonObject> {
  const res = await fetch(url, {
    method,
    headers: { "content-type": "application/json", accept: "application/json", "idempotency-key": ctx.idempotencyKey },
    body: body ? JSON.stringify(body) : undefined,
    signal: ctx.signal,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${method} ${describe(url)}`);
  if (!text.trim()) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as JsonObject) : { result: parsed };
  } catch {
    throw new Error(`non-JSON answer from ${method} ${describe(url)}`);
  }
}

/** Splits an answer into output and sealed secret fields. */
function split(answer: JsonObject, drop: string[] = []): StepResult {
  const output: JsonObject = {};
  const secret: JsonObject = {};
  for (const [key, value] of Object.entries(answer)) {
    if (drop.includes(key)) continue;
    if (SECRET_FIELDS.includes(key)) secret[key] = value;
    else output[key] = value;
  }
  return { output, secret };
}

function baseBody(service: ServiceSpec, ctx: StepContext): JsonObject {
  return { workflow_id: ctx.workflowId, tenant_id: ctx.tenantId, service: service.slug, step: ctx.stepName, attempt: ctx.attempt, input: ctx.input };
}

function stepOf(service: ServiceSpec, spec: ServiceStepSpec): StepDefinition {
  const step: StepDefinition = {
    name: spec.name,
    kind: spec.kind,
    retry: spec.retry,
    timeoutMs: spec.timeoutMs,
    pollPolicy: Object.fromEntries(
      Object.entries({ intervalMs: spec.pollIntervalMs, backoffFactor: spec.pollBackoffFactor, maxIntervalMs: spec.pollMaxIntervalMs }).filter(([, v]) => v !== undefined),
    ),
    async run(ctx) {
      const body = baseBody(service, ctx);
      if (spec.kind === "callback") {
        await call("POST", spec.url, ctx, {
          ...body,
          callback_url: ctx.callback!.url,
          callback_token: ctx.callback!.token,
          expires_at: ctx.callback!.expiresAt.toISOString(),
        });
        return;
      }
      const answer = await call("POST", spec.url, ctx, body);
      if (spec.kind === "poll") {
        const operationId = answer.operation_id;
        if (typeof operationId !== "string" && typeof operationId !== "number") {
          throw new Error(`start of ${describe(spec.url)} answered without operation_id`);
        }
        return { state: { operationId: String(operationId) }, output: { operation_id: String(operationId) } };
      }
      return split(answer);
    },
  };
  if (spec.kind === "poll") {
    step.poll = async (ctx) => {
      const operationId = String(ctx.pollState?.operationId ?? "");
      const answer = await call("GET", spec.statusUrl!.replace("{operation_id}", encodeURIComponent(operationId)), ctx);
      const status = String(answer.status ?? "").toLowerCase();
      if (["done", "succeeded", "success", "completed"].includes(status)) {
        const { output, secret } = split(answer, ["status"]);
        return { status: "done", output: { operation_id: operationId, ...output }, secret };
      }
      if (["failed", "error"].includes(status)) return { status: "failed", error: String(answer.error ?? "the operation failed") };
      return { status: "pending", detail: { status: status || "pending" } };
    };
  }
  if (spec.compensateUrl) {
    const url = spec.compensateUrl;
    step.compensate = async (ctx) => {
      await call("POST", url, { ...ctx, idempotencyKey: `${ctx.workflowId}:${ctx.stepName}:compensate:${ctx.attempt}` }, { ...baseBody(service, ctx), compensate: true, output: ctx.outputs[ctx.stepName] ?? null });
    };
  }
  return step;
}

/** Registers one definition per catalogue service (kind `service_provisioning`, keyed by slug). */
export function registerServiceWorkflows(catalogue: ServiceCatalogue, registry: WorkflowRegistry = workflowRegistry): void {
  for (const service of catalogue.services) {
    registry.register(defineWorkflow({ kind: SERVICE_PROVISIONING, serviceSlug: service.slug, steps: service.steps.map((s) => stepOf(service, s)) }));
  }
}

const ACTIVE = new Set(["PENDING", "RUNNING", "WAITING", "ROLLING_BACK"]);

/**
 * Starts provisioning `serviceSlug` for the tenant of `em` (in its transaction). Idempotent while
 * one is in flight: the running workflow is returned instead of a second one.
 */
export async function startServiceProvisioning(
  em: EntityManager,
  catalogue: ServiceCatalogue,
  tenantId: string,
  serviceSlug: string,
): Promise<{ workflowId: string; started: boolean }> {
  if (!catalogue.get(serviceSlug)) throw DomainError.notFound("Service", serviceSlug);
  return em.transactional(async (tem) => {
    // Serialise starts per tenant and service so two clicks make one workflow.
    await tem.getConnection().execute("select pg_advisory_xact_lock(hashtext(?))", [`svc:${tenantId}:${serviceSlug}`], "all", tem.getTransactionContext());
    const latest = await latestServiceWorkflow(tem, serviceSlug, tenantId);
    if (latest && ACTIVE.has(latest.status)) return { workflowId: latest.id, started: false };
    const wf: WorkflowSnapshot = await startWorkflow(tem, { kind: SERVICE_PROVISIONING, tenantId, serviceSlug, input: { service: serviceSlug } });
    return { workflowId: wf.id, started: true };
  });
}
