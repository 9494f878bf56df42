import { Arg, Args, Authorized, Ctx, Query, Resolver } from "type-graphql";
import type { Context } from "../../src/context.js";
import { getTenantBySlug, listTenants } from "../../src/tenants/queries.js";
import { decodeCursor, pageSize, PageArgs, toConnection } from "../common/relay.js";
import { TenantConnection, TenantStatusType, TenantType, toTenantStatus, toTenantType } from "./tenant.types.js";
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
}
