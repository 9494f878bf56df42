/**
 * Live workflow events over graphql-ws, fed by the event bus (`app.events.subscribe`): replay
 * after `since` from the event table, then live, in order, each once. Each event is mapped from
 * its payload snapshot, so a subscriber costs no query per event.
 */
import { GraphQLSafeInt } from "graphql-scalars";
import { Arg, ID, Resolver, Root, Subscription } from "type-graphql";
import type { SubscribeResolverData } from "type-graphql";
import type { Context } from "../../src/context.js";
import { DomainError } from "../../src/errors/index.js";
import { isExpired } from "../../src/auth/viewer.js";
import type { StoredEvent } from "../../src/events/index.js";
import { getWorkflow } from "../../src/engine/queries.js";
import { WORKFLOW_TOPIC_PREFIX, workflowTopic } from "../../src/engine/types.js";
import { toEventType, WorkflowEventType } from "./workflow.types.js";

function viewerTenant(ctx: Context): string | undefined {
  const { viewer } = ctx;
  if (viewer.kind === "anonymous") throw DomainError.unauthenticated();
  if (isExpired(viewer)) throw DomainError.unauthenticated("Token expired");
  return viewer.kind === "tenant" ? viewer.tenantId : undefined;
}

function checkSince(since: number | null | undefined): number | undefined {
  if (since == null) return undefined;
  if (since < 0) throw DomainError.badInput("since", "must be ≥ 0");
  return since;
}

@Resolver()
export class WorkflowSubscriptionResolver {
  @Subscription(() => WorkflowEventType, {
    description: "Every change of one workflow and its steps, in order. `since`: replay events after that sequence first.",
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, { workflowId: string; since?: number | null }, Context>) => {
      const tenantId = viewerTenant(context);
      const since = checkSince(args.since);
      await getWorkflow(context.em, args.workflowId); // NOT_FOUND for another tenant's workflow
      return context.app.events.subscribe({ tenantId, topics: [workflowTopic(args.workflowId)] }, since);
    },
  })
  workflowStepChanged(
    @Root() event: StoredEvent,
    @Arg("workflowId", () => ID) _workflowId: string,
    @Arg("since", () => GraphQLSafeInt, { nullable: true }) _since?: number | null,
  ): WorkflowEventType {
    return toEventType(event);
  }

  @Subscription(() => WorkflowEventType, {
    description: "Every workflow change the caller may see (a tenant: its own; an admin: all). `since`: replay after that sequence first.",
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { since?: number | null }, Context>) => {
      const tenantId = viewerTenant(context);
      const since = checkSince(args.since);
      return context.app.events.subscribe({ tenantId, topicPrefix: WORKFLOW_TOPIC_PREFIX }, since);
    },
  })
  workflowChanged(@Root() event: StoredEvent, @Arg("since", () => GraphQLSafeInt, { nullable: true }) _since?: number | null): WorkflowEventType {
    return toEventType(event);
  }
}
