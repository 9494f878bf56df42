import DataLoader from "dataloader";
import { GraphQLSafeInt } from "graphql-scalars";
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { Context } from "../../src/context.js";
import { requireAdmin } from "../../src/context.js";
import { DomainError } from "../../src/errors/index.js";
import { getWorkflow, latestServiceWorkflow, listWorkflows, stepsOf, workflowHistory } from "../../src/engine/queries.js";
import { cancelWorkflow, forceCompleteWorkflow, retryWorkflowStep, rollbackWorkflow, type AdminAction } from "../../src/engine/admin.js";
import { startServiceProvisioning } from "../../src/services/provisioning.js";
import type { WorkflowStep } from "../../entities/workflow/workflow-step.entity.js";
import type { WorkflowStatus } from "../../src/engine/types.js";
import { ADMIN, TENANT } from "../common/auth.js";
import { decodeCursor, pageSize, PageArgs, toConnection } from "../common/relay.js";
import {
  AdminWorkflowFilter,
  fromActionSnapshot,
  ServiceType,
  toEventType,
  toServiceType,
  toStepType,
  toWorkflowType,
  WorkflowConnection,
  WorkflowEventType,
  WorkflowsArgs,
  WorkflowStepType,
  WorkflowType,
} from "./workflow.types.js";

const stepLoaders = new WeakMap<Context, DataLoader<string, WorkflowStep[]>>();
function stepLoader(ctx: Context): DataLoader<string, WorkflowStep[]> {
  let loader = stepLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader((ids) => stepsOf(ctx.em, ids));
    stepLoaders.set(ctx, loader);
  }
  return loader;
}

const cursorOf = (w: WorkflowType) => ({ key: w.createdAt.toISOString(), id: w.id });
const REASON_MAX = 500;

function adminAction(ctx: Context, workflowId: string, reason: string | null | undefined): AdminAction {
  if (reason && reason.length > REASON_MAX) throw DomainError.badInput("reason", `at most ${REASON_MAX} characters`);
  return { workflowId, actor: requireAdmin(ctx).keyId, reason: reason ?? null };
}

@Resolver(() => WorkflowType)
export class WorkflowResolver {
  @FieldResolver(() => [WorkflowStepType], { description: "The steps, in order." })
  async steps(@Root() workflow: WorkflowType, @Ctx() ctx: Context): Promise<WorkflowStepType[]> {
    return workflow.committedSteps ?? (await stepLoader(ctx).load(workflow.id)).map(toStepType);
  }

  @FieldResolver(() => [WorkflowEventType], { description: "The append-only history, oldest first." })
  async events(
    @Root() workflow: WorkflowType,
    @Ctx() ctx: Context,
    @Arg("after", () => GraphQLSafeInt, { nullable: true, description: "Only events after this sequence." }) after?: number | null,
    @Arg("limit", () => Int, { nullable: true, description: "At most this many (1–1000, default 1000)." }) limit?: number | null,
  ): Promise<WorkflowEventType[]> {
    if (limit != null && (limit < 1 || limit > 1000)) throw DomainError.badInput("limit", "must be between 1 and 1000");
    return (await workflowHistory(ctx.em, workflow.id, after ?? 0, limit ?? 1000)).map(toEventType);
  }

  @Authorized()
  @Query(() => WorkflowType, { description: "One workflow (a tenant sees only its own)." })
  async workflow(@Arg("id", () => ID) id: string, @Ctx() ctx: Context): Promise<WorkflowType> {
    return toWorkflowType(await getWorkflow(ctx.em, id));
  }

  @Authorized(TENANT)
  @Query(() => WorkflowConnection, { description: "The caller's workflows, newest first." })
  async workflows(@Args(() => WorkflowsArgs) args: WorkflowsArgs, @Ctx() ctx: Context) {
    const size = pageSize(args.first);
    const after = args.after ? decodeCursor(args.after) : undefined;
    const rows = await listWorkflows(ctx.em, { serviceSlug: args.serviceSlug, status: args.status as WorkflowStatus | null }, { size, after });
    return toConnection(rows.map(toWorkflowType), size, cursorOf, !!after);
  }

  @Authorized(ADMIN)
  @Query(() => WorkflowConnection, { description: "Workflows across every tenant, newest first (admin)." })
  async adminWorkflows(
    @Args(() => PageArgs) { first, after }: PageArgs,
    @Ctx() ctx: Context,
    @Arg("filter", () => AdminWorkflowFilter, { nullable: true }) filter?: AdminWorkflowFilter | null,
  ) {
    const size = pageSize(first);
    const cursor = after ? decodeCursor(after) : undefined;
    const rows = await listWorkflows(ctx.em, { ...filter, status: (filter?.status ?? null) as WorkflowStatus | null }, { size, after: cursor });
    return toConnection(rows.map(toWorkflowType), size, cursorOf, !!cursor);
  }

  @Authorized()
  @Query(() => [ServiceType], { description: "Services that can be provisioned (the catalogue)." })
  services(@Ctx() ctx: Context): ServiceType[] {
    return ctx.app.serviceCatalogue.services.map(toServiceType);
  }

  @Authorized(TENANT)
  @Query(() => WorkflowType, { nullable: true, description: "The caller's most recent provisioning workflow for a service (null if never started)." })
  async provisioningStatus(@Arg("serviceSlug", () => String) serviceSlug: string, @Ctx() ctx: Context): Promise<WorkflowType | null> {
    if (!ctx.app.serviceCatalogue.get(serviceSlug)) throw DomainError.notFound("Service", serviceSlug);
    const latest = await latestServiceWorkflow(ctx.em, serviceSlug);
    return latest ? toWorkflowType(latest) : null;
  }

  @Authorized(TENANT)
  @Mutation(() => WorkflowType, { description: "Starts provisioning a service for the caller's tenant; while one is in flight, returns it." })
  async startServiceProvisioning(@Arg("serviceSlug", () => String) serviceSlug: string, @Ctx() ctx: Context): Promise<WorkflowType> {
    if (ctx.viewer.kind !== "tenant") throw DomainError.forbidden();
    const { workflowId } = await startServiceProvisioning(ctx.em, ctx.app.serviceCatalogue, ctx.viewer.tenantId, serviceSlug);
    return toWorkflowType(await getWorkflow(ctx.em.fork(), workflowId));
  }

  @Authorized(ADMIN)
  @Mutation(() => WorkflowType, { description: "Resets a FAILED step to PENDING (retryCount + 1) and runs the workflow on (admin)." })
  async retryWorkflowStep(
    @Arg("workflowId", () => ID) workflowId: string,
    @Arg("stepName", () => String) stepName: string,
    @Ctx() ctx: Context,
    @Arg("reason", () => String, { nullable: true }) reason?: string | null,
  ): Promise<WorkflowType> {
    const action = { ...adminAction(ctx, workflowId, reason), stepName };
    return fromActionSnapshot(await ctx.em.transactional((tem) => retryWorkflowStep(tem, action)));
  }

  @Authorized(ADMIN)
  @Mutation(() => WorkflowType, { description: "Marks every unfinished step SKIPPED and the workflow COMPLETED (admin)." })
  async forceCompleteWorkflow(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: Context,
    @Arg("reason", () => String, { nullable: true }) reason?: string | null,
  ): Promise<WorkflowType> {
    const action = adminAction(ctx, id, reason);
    return fromActionSnapshot(await ctx.em.transactional((tem) => forceCompleteWorkflow(tem, action)));
  }

  @Authorized(ADMIN)
  @Mutation(() => WorkflowType, { description: "Runs the compensations of the completed steps in reverse order (admin)." })
  async rollbackWorkflow(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: Context,
    @Arg("reason", () => String, { nullable: true }) reason?: string | null,
  ): Promise<WorkflowType> {
    const action = adminAction(ctx, id, reason);
    return fromActionSnapshot(await ctx.em.transactional((tem) => rollbackWorkflow(tem, action)));
  }

  @Authorized(ADMIN)
  @Mutation(() => WorkflowType, { description: "Stops a workflow; unfinished steps are SKIPPED (admin)." })
  async cancelWorkflow(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: Context,
    @Arg("reason", () => String, { nullable: true }) reason?: string | null,
  ): Promise<WorkflowType> {
    const action = adminAction(ctx, id, reason);
    return fromActionSnapshot(await ctx.em.transactional((tem) => cancelWorkflow(tem, action)));
  }
}
