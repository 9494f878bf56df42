import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initOrm, systemEm, tenantEm, type Orm } from "../../src/db/orm.js";
import { Tenant } from "../../entities/tenant/tenant.entity.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

describe("data-layer tenant filter", () => {
  let db: TestDatabase;
  let orm: Orm;
  const ids: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await initOrm({ clientUrl: db.url, poolMax: 2 });
    const em = systemEm(orm);
    for (const slug of ["alpha", "bravo"]) {
      const tenant = em.create(Tenant, { slug, name: slug });
      ids.push(tenant.id);
    }
    await em.flush();
  });

  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  it("shows a tenant-scoped EntityManager only its own rows", async () => {
    const em = tenantEm(orm, ids[0]!);
    const visible = await em.find(Tenant, {});
    expect(visible.map((t) => t.slug)).toEqual(["alpha"]);
    expect(await em.findOne(Tenant, { id: ids[1]! })).toBeNull();
    expect(await em.count(Tenant, { slug: "bravo" })).toBe(0);
  });

  it("fails closed when nobody scoped the EntityManager", async () => {
    const em = orm.em.fork({ useContext: false });
    await expect(em.find(Tenant, {})).rejects.toThrow(/filter/i);
  });

  it("shows everything to system code", async () => {
    expect(await systemEm(orm).count(Tenant, {})).toBe(2);
  });

  it("keeps the migrations in step with the entities", async () => {
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: true });
    expect(diff.trim()).toBe("");
  });
});
