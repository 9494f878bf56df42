import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { GraphQLJSONObject, GraphQLSafeInt } from "graphql-scalars";
import { STEP_KINDS, STEP_STATUSES, WORKFLOW_STATUSES, type StepSnapshot, type WorkflowEventPayload, type WorkflowSnapshot } from "../../src/engine/types.js";
import type { Workflow } from "../../entities/workflow/workflow.entity.js";
import type { WorkflowStep } from "../../entities/workflow/workflow-step.entity.js";
import type { StoredEvent } from "../../src/events/index.js";
import type { ServiceSpec } from "../../src/services/catalogue.js";
import { ConnectionType, PageArgs } from "../common/relay.js";

const asEnum = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as Record<T, T>;
export const WorkflowStatusEnum = asEnum(WORKFLOW_STATUSES);
export const StepStatusEnum = asEnum(STEP_STATUSES);
export const StepKindEnum = asEnum(STEP_KINDS);
registerEnumType(WorkflowStatusEnum, { name: "WorkflowStatus", description: "Where a workflow is in its life." });
registerEnumType(StepStatusEnum, { name: "WorkflowStepStatus", description: "Where a workflow step is in its life." });
registerEnumType(StepKindEnum, { name: "WorkflowStepKind", description: "action: code in the worker; callback: an external service posts the result back; poll: the worker polls an external operation." });

@ObjectType("WorkflowStep", { simpleResolvers: true, description: "One step of a workflow." })
export class WorkflowStepType {
  @Field(() => ID)
  id!: string;
  @Field(() => String)
  name!: string;
  @Field(() => Int)
  position!: number;
  @Field(() => StepKindEnum)
  kind!: string;
  @Field(() => StepStatusEnum)
  status!: string;
  @Field(() => Int, { description: "Executions so far (grows across retries and reclaims; the fencing token)." })
  attempt!: number;
  @Field(() => Int, { description: "Times an admin retried the step." })
  retryCount!: number;
  @Field(() => Int, { description: "Executions allowed per phase (first run, each admin retry, compensation)." })
  maxAttempts!: number;
  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;
  @Field(() => Date, { nullable: true })
  completedAt!: Date | null;
  @Field(() => Date, { nullable: true })
  nextAttemptAt!: Date | null;
  @Field(() => String, { nullable: true })
  error!: string | null;
  @Field(() => GraphQLJSONObject, { nullable: true, description: "The step's result; secrets (endpoint, credentials) are redacted." })
  output!: Record<string, unknown> | null;
}

@ObjectType("WorkflowSummary", { simpleResolvers: true, description: "A workflow's own fields, as of an event." })
export class WorkflowSummaryType {
  @Field(() => ID)
  id!: string;
  @Field(() => ID)
  tenantId!: string;
  @Field(() => String)
  kind!: string;
  @Field(() => String, { nullable: true })
  serviceSlug!: string | null;
  @Field(() => WorkflowStatusEnum)
  status!: string;
  @Field(() => String, { nullable: true })
  error!: string | null;
  @Field(() => Date)
  createdAt!: Date;
  @Field(() => Date)
  updatedAt!: Date;
  @Field(() => Date, { nullable: true })
  completedAt!: Date | null;
}

@ObjectType("Workflow", { simpleResolvers: true, description: "A durable workflow: ordered steps and an append-only history." })
export class WorkflowType extends WorkflowSummaryType {
  /**
   * Not a field: the steps as an admin action's transaction left them. The `steps` field returns
   * these rather than the rows read after commit, which a worker may already have moved on (a
   * retried step read as RUNNING instead of the PENDING the action set).
   */
  committedSteps?: WorkflowStepType[];
}

@ObjectType("WorkflowEvent", { simpleResolvers: true, description: "One entry of a workflow's history; also what subscriptions yield." })
export class WorkflowEventType {
  @Field(() => GraphQLSafeInt, { description: "Global, increasing: pass the last one seen as `since` to resume." })
  sequence!: number;
  @Field(() => Date)
  occurredAt!: Date;
  @Field(() => String, { description: "e.g. step.started, step.completed, step.retry_scheduled, step.polled, workflow.completed." })
  type!: string;
  @Field(() => WorkflowSummaryType)
  workflow!: WorkflowSummaryType;
  @Field(() => WorkflowStepType, { nullable: true, description: "The step that changed (null for workflow-level events)." })
  step!: WorkflowStepType | null;
  @Field(() => GraphQLJSONObject, { nullable: true, description: "Type-specific detail: error and delay of a retry, a poll result, the admin key id and reason of an admin action." })
  detail!: Record<string, unknown> | null;
}

export const WorkflowConnection = ConnectionType("Workflow", WorkflowType);

@InputType("AdminWorkflowFilter")
export class AdminWorkflowFilter {
  @Field(() => ID, { nullable: true })
  tenantId?: string | null;
  @Field(() => String, { nullable: true })
  kind?: string | null;
  @Field(() => String, { nullable: true })
  serviceSlug?: string | null;
  @Field(() => WorkflowStatusEnum, { nullable: true })
  status?: string | null;
}

@ArgsType()
export class WorkflowsArgs extends PageArgs {
  @Field(() => String, { nullable: true })
  serviceSlug?: string | null;
  @Field(() => WorkflowStatusEnum, { nullable: true })
  status?: string | null;
}

@ObjectType("ServiceStep", { simpleResolvers: true })
export class ServiceStepType {
  @Field(() => String)
  name!: string;
  @Field(() => StepKindEnum)
  kind!: string;
}

@ObjectType("Service", { simpleResolvers: true, description: "A service tenants can provision (from the services catalogue)." })
export class ServiceType {
  @Field(() => String)
  slug!: string;
  @Field(() => String)
  name!: string;
  @Field(() => String)
  description!: string;
  @Field(() => [ServiceStepType])
  steps!: ServiceStepType[];
}

const date = (v: string | Date | null) => (v === null ? null : new Date(v));

export function toWorkflowType(w: Workflow): WorkflowType {
  return {
    id: w.id,
    tenantId: w.tenant.id,
    kind: w.kind,
    serviceSlug: w.serviceSlug,
    status: w.status,
    error: w.error,
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
    completedAt: w.completedAt,
  };
}

export function toStepType(s: WorkflowStep): WorkflowStepType {
  return {
    id: s.id,
    name: s.name,
    position: s.position,
    kind: s.kind,
    status: s.status,
    attempt: s.attempt,
    retryCount: s.retryCount,
    maxAttempts: s.maxAttempts,
    startedAt: s.startedAt,
    completedAt: s.completedAt,
    nextAttemptAt: s.nextAttemptAt,
    error: s.error,
    output: s.output,
  };
}

function fromStepSnapshot(s: StepSnapshot): WorkflowStepType {
  return { ...s, startedAt: date(s.startedAt), completedAt: date(s.completedAt), nextAttemptAt: date(s.nextAttemptAt) };
}

export function fromWorkflowSnapshot(w: WorkflowSnapshot): WorkflowSummaryType {
  return {
    id: w.id,
    tenantId: w.tenantId,
    kind: w.kind,
    serviceSlug: w.serviceSlug,
    status: w.status,
    error: w.error,
    createdAt: new Date(w.createdAt),
    updatedAt: new Date(w.updatedAt),
    completedAt: date(w.completedAt),
  };
}

/** An admin action's result: the workflow and its steps as its transaction left them. */
export function fromActionSnapshot(w: WorkflowSnapshot): WorkflowType {
  return { ...fromWorkflowSnapshot(w), committedSteps: w.steps?.map(fromStepSnapshot) };
}

/** A stored event as the API shows it, straight from its payload snapshot (no query). */
export function toEventType(event: StoredEvent): WorkflowEventType {
  const payload = event.payload as unknown as WorkflowEventPayload;
  return {
    sequence: event.sequence,
    occurredAt: event.occurredAt,
    type: event.type,
    workflow: fromWorkflowSnapshot(payload.workflow),
    step: payload.step ? fromStepSnapshot(payload.step) : null,
    detail: payload.detail ?? null,
  };
}

export function toServiceType(s: ServiceSpec): ServiceType {
  return { slug: s.slug, name: s.name, description: s.description, steps: s.steps.map((st) => ({ name: st.name, kind: st.kind })) };
}
