import { Ctx, Field, ObjectType, Query, Resolver, registerEnumType } from "type-graphql";
import type { Context } from "../../src/context.js";
import { findTenantById } from "../../src/tenants/queries.js";
import { TenantType, toTenantType } from "../tenant/tenant.types.js";

export enum ViewerKind {
  ANONYMOUS = "ANONYMOUS",
  ADMIN = "ADMIN",
  TENANT = "TENANT",
}
registerEnumType(ViewerKind, { name: "ViewerKind" });

@ObjectType("Viewer", { simpleResolvers: true, description: "Who the caller is." })
export class ViewerType {
  @Field(() => ViewerKind)
  kind!: ViewerKind;

  @Field(() => String, { nullable: true, description: "Non-secret id of the admin key in use." })
  adminKeyId!: string | null;

  @Field(() => TenantType, { nullable: true, description: "The caller's tenant (tenant users)." })
  tenant!: TenantType | null;
}

@Resolver()
export class ViewerResolver {
  @Query(() => ViewerType, { description: "Who the caller is; answers anonymous callers too." })
  async viewer(@Ctx() ctx: Context): Promise<ViewerType> {
    const { viewer } = ctx;
    if (viewer.kind === "admin") return { kind: ViewerKind.ADMIN, adminKeyId: viewer.keyId, tenant: null };
    if (viewer.kind === "tenant") {
      const tenant = await findTenantById(ctx.em, viewer.tenantId);
      return { kind: ViewerKind.TENANT, adminKeyId: null, tenant: tenant ? toTenantType(tenant) : null };
    }
    return { kind: ViewerKind.ANONYMOUS, adminKeyId: null, tenant: null };
  }
}
