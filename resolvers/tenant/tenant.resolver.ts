import { Arg, Args, Authorized, Ctx, Mutation, Query, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { SafeIntResolver } from "graphql-scalars";
import type { Context } from "../../src/context.js";
import { getTenantBySlug, listTenants } from "../../src/tenants/queries.js";
import { deprovisionTenant } from "../../src/tenants/deprovision.js";
import { createTenant } from "../../src/tenants/create.js";
import { pickUpTenantCredentials } from "../../src/tenants/credentials.js";
import { tenantProvisioningEvents } from "../../src/tenants/subscription.js";
import type { StoredEvent } from "../../src/events/index.js";
import { requireAdmin } from "../../src/context.js";
import { decodeCursor, pageSize, PageArgs, toConnection } from "../common/relay.js";
import {
  CreateTenantInputType,
  TenantConnection,
  TenantCredentialsType,
  TenantProvisioningEventType,
  TenantStatusType,
  TenantType,
  toTenantProvisioningEvent,
  toTenantStatus,
  toTenantType,
} from "./tenant.types.js";
import { ADMIN } from "../common/auth.js";

@Resolver(() => TenantType)
export class TenantResolver {
  @Authorized(ADMIN)
  @Query(() => TenantConnection, { description: "Every tenant, oldest first (admin)." })
  async tenants(@Args(() => PageArgs) { first, after }: PageArgs, @Ctx() ctx: Context) {
    const size = pageSize(first);
    const cursor = after ? decodeCursor(after) : undefined;
    const rows = await listTenants(ctx.em, { size, after: cursor });
    return toConnection(rows.map(toTenantType), size, (t) => ({ key: t.createdAt.toISOString(), id: t.id }), !!cursor);
  }

  @Authorized(ADMIN)
  @Query(() => TenantStatusType, { description: "Provisioning status of one tenant (admin)." })
  async tenantStatus(@Arg("slug", () => String) slug: string, @Ctx() ctx: Context): Promise<TenantStatusType> {
    return toTenantStatus(await getTenantBySlug(ctx.em, slug));
  }

  @Authorized(ADMIN)
  @Mutation(() => TenantType, {
    description:
      "Creates a tenant and starts its 9-step provisioning pipeline; returns at once (admin). On a FAILED tenant resumes the pipeline from the failed step; on a PROVISIONING or ACTIVE one returns it unchanged.",
  })
  async createTenant(@Arg("input", () => CreateTenantInputType) input: CreateTenantInputType, @Ctx() ctx: Context): Promise<TenantType> {
    const { keyId } = requireAdmin(ctx);
    const { tenant, outcome } = await createTenant(ctx.em, input, { namespacePrefix: ctx.app.config.namespacePrefix, actor: keyId });
    if (outcome !== "unchanged") ctx.log.info({ tenantId: tenant.id, slug: tenant.slug, outcome }, "tenant pipeline started");
    return toTenantType(tenant);
  }

  @Authorized(ADMIN)
  @Mutation(() => TenantType, {
    description:
      "Soft-deactivates a tenant (admin): DEPROVISIONED, API keys revoked, tokens refused, connectors paused; data kept. CONFLICT while its pipeline is still running.",
  })
  async deprovisionTenant(@Arg("slug", () => String) slug: string, @Ctx() ctx: Context): Promise<TenantType> {
    const outcome = await deprovisionTenant(ctx.em, slug);
    ctx.app.tenantAccess.forget(outcome.tenant.id);
    if (outcome.changed) {
      ctx.log.info(
        { tenantId: outcome.tenant.id, revokedKeys: outcome.revokedKeys, pausedConnectors: outcome.pausedConnectors },
        "tenant deprovisioned",
      );
    }
    return toTenantType(outcome.tenant);
  }

  @Authorized(ADMIN)
  @Mutation(() => TenantCredentialsType, {
    description:
      "Reveals the tenant's API key issued by its pipeline, once (admin); the stored copy is erased. CONFLICT when there is none to pick up.",
  })
  async tenantCredentials(@Arg("slug", () => String) slug: string, @Ctx() ctx: Context): Promise<TenantCredentialsType> {
    const masterKey = ctx.app.config.masterKey;
    if (!masterKey) throw new Error("GANTRY_MASTER_KEY is not configured");
    return pickUpTenantCredentials(ctx.em, masterKey, slug);
  }

  @Authorized(ADMIN)
  @Subscription(() => TenantProvisioningEventType, {
    description:
      "Every change of one tenant's provisioning (admin). Without `since`, starts with a `tenant.snapshot` of the current state; with it, replays what came after that sequence first.",
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { slug: string; since?: number | null }, Context>) => {
      // Checked here too: @Authorized guards the per-event resolver, not the subscribe step.
      requireAdmin(context);
      return tenantProvisioningEvents(context.em, context.app.events, args.slug, args.since ?? undefined);
    },
  })
  tenantProvisioningChanged(
    @Root() event: StoredEvent,
    @Arg("slug", () => String) _slug: string,
    @Arg("since", () => SafeIntResolver, { nullable: true }) _since: number | null,
  ): TenantProvisioningEventType {
    return toTenantProvisioningEvent(event);
  }
}
