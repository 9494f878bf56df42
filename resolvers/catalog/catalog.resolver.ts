import { Args, Authorized, Ctx, Query, Resolver } from "type-graphql";
import type { Context } from "../../src/context.js";
import { listCatalogs } from "../../src/tenants/catalogs.js";
import { decodeCursor, pageSize, PageArgs, toConnection } from "../common/relay.js";
import { TENANT } from "../common/auth.js";
import { CatalogConnection, CatalogType, toCatalogType } from "./catalog.types.js";

@Resolver(() => CatalogType)
export class CatalogResolver {
  @Authorized(TENANT)
  @Query(() => CatalogConnection, { description: "The caller's lakehouse catalogs, by name (tenant)." })
  async catalogs(@Args(() => PageArgs) { first, after }: PageArgs, @Ctx() ctx: Context) {
    const size = pageSize(first);
    const cursor = after ? decodeCursor(after) : undefined;
    const rows = await listCatalogs(ctx.em, { size, after: cursor });
    return toConnection(rows.map(toCatalogType), size, (c) => ({ key: c.name, id: c.id }), !!cursor);
  }
}
