/**
 * The nine provisioning steps as plain functions against a real PostgreSQL: effects, idempotency,
 * compensation, a failing tenant migration, and slugs that must never reach SQL.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MikroORM } from "@mikro-orm/core";
import type { PostgreSqlDriver } from "@mikro-orm/postgresql";
import { ormConfig, systemEm, type Orm } from "../../src/db/orm.js";
import { TENANT_STEPS, stagingBaseSchemaName, type StepDeps, type TenantRef } from "../../src/tenants/steps/index.js";
import { pickUpTenantCredentials, revokeTenantApiKeys, tenantIdForApiKey } from "../../src/tenants/credentials.js";
import { sha256Hex } from "../../src/crypto/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const FIXTURE = path.resolve(import.meta.dirname, "../fixtures/tenant-sql-failing");

describe("tenant provisioning steps", () => {
  let db: TestDatabase;
  let orm: Orm;
  let queries = 0;
  const masterKey = randomBytes(32);
  const deps = (extra: Partial<StepDeps["config"]> = {}): StepDeps => ({
    orm,
    config: { namespacePrefix: "gantry", icebergCatalogUrl: undefined, masterKey, tenantMigrationsDir: undefined, ...extra },
  });
  const tenantRef = (slug: string): TenantRef => ({ id: randomUUID(), slug, name: `Tenant ${slug}` });
  const step = (name: string) => TENANT_STEPS.find((s) => s.name === name)!;
  const schemas = async (like: string) =>
    (await db.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like $1 order by 1`, [like])).map(
      (r) => r.nspname,
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await MikroORM.init<PostgreSqlDriver>({
      ...ormConfig({ clientUrl: db.url, poolMax: 3 }),
      onQuery: (sql: string) => {
        queries++;
        return sql;
      },
    });
  });

  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  it("runs all nine steps: schema, migrations, catalog, namespace, staging, key, settings, ACTIVE", async () => {
    const tenant = tenantRef("acme-corp");
    const outputs: Record<string, unknown> = {};
    for (const s of TENANT_STEPS) outputs[s.name] = await s.run(deps(), tenant);

    expect(TENANT_STEPS.map((s) => s.name)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `step_${n}`));
    expect(outputs.step_3).toMatchObject({ schema: "tenant_acme_corp", applied: ["001", "002"], total: 2 });
    expect(await schemas("%acme_corp%")).toEqual(["gantry_staging_acme_corp", "gantry_tenant_acme_corp", "tenant_acme_corp"]);
    const versions = await db.query(`select version, name from tenant_acme_corp.schema_migrations order by version`);
    expect(versions).toEqual([
      { version: "001", name: "core" },
      { version: "002", name: "audit_log" },
    ]);
    const tables = await db.query(`select table_name from information_schema.tables where table_schema = 'tenant_acme_corp' order by 1`);
    expect(tables.map((t) => t.table_name)).toEqual(["audit_log", "dataset", "dataset_column", "schema_migrations"]);
    const catalogs = await db.query(`select name, status from lakehouse.tenant_catalogs where tenant_id = $1`, [tenant.id]);
    expect(catalogs).toEqual([{ name: "lakehouse", status: "ACTIVE" }]);
    const [row] = await db.query(`select slug, name, provisioning_state from tenant where id = $1`, [tenant.id]);
    expect(row).toEqual({ slug: "acme-corp", name: "Tenant acme-corp", provisioning_state: "ACTIVE" });
    expect(await db.query(`select timezone from tenant_settings where tenant_id = $1`, [tenant.id])).toEqual([{ timezone: "UTC" }]);

    // Step 7 output names the key, never the key; only its hash and a one-time envelope are stored.
    const issued = outputs.step_7 as { keyId: string; keyPrefix: string };
    expect(issued.keyPrefix).toMatch(/^gtk_.{8}$/);
    expect(JSON.stringify(outputs)).not.toMatch(/gtk_[A-Za-z0-9_-]{20,}/);
    const picked = await pickUpTenantCredentials(systemEm(orm), masterKey, "acme-corp");
    expect(picked.apiKey.startsWith(issued.keyPrefix)).toBe(true);
    const [stored] = await db.query(`select key_hash, pickup_envelope from tenant_api_key where id = $1`, [issued.keyId]);
    expect(stored).toEqual({ key_hash: sha256Hex(picked.apiKey), pickup_envelope: null });
    await expect(pickUpTenantCredentials(systemEm(orm), masterKey, "acme-corp")).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await tenantIdForApiKey(systemEm(orm), picked.apiKey)).toBe(tenant.id);
    expect(await tenantIdForApiKey(systemEm(orm), picked.apiKey + "x")).toBeNull();
    expect(await revokeTenantApiKeys(systemEm(orm), tenant.id)).toBe(1);
    expect(await tenantIdForApiKey(systemEm(orm), picked.apiKey)).toBeNull();
  });

  it("is idempotent: every step run twice ends in the same state", async () => {
    const tenant = tenantRef("twice");
    for (const s of TENANT_STEPS) await s.run(deps(), tenant);
    const again: Record<string, unknown> = {};
    for (const s of TENANT_STEPS) again[s.name] = await s.run(deps(), tenant);
    expect(again.step_1).toMatchObject({ created: false });
    expect(again.step_2).toMatchObject({ outcome: "existed" });
    expect(again.step_3).toMatchObject({ applied: [] });
    expect(again.step_5).toMatchObject({ outcome: "existed" });
    expect(again.step_8).toEqual({ settings: "existed" });
    expect(await db.query(`select count(*)::int as n from tenant_api_key where tenant_id = $1`, [tenant.id])).toEqual([{ n: 1 }]);
    expect(await db.query(`select count(*)::int as n from lakehouse.tenant_catalogs where tenant_id = $1`, [tenant.id])).toEqual([{ n: 1 }]);
    expect(await db.query(`select count(*)::int as n from tenant_twice.schema_migrations`)).toEqual([{ n: 2 }]);
  });

  it("compensates in reverse order: everything the steps created is gone", async () => {
    const tenant = tenantRef("undo-me");
    for (const s of TENANT_STEPS) await s.run(deps(), tenant);
    for (const s of [...TENANT_STEPS].reverse()) await s.compensate(deps(), tenant);
    expect(await schemas("%undo_me%")).toEqual([]);
    expect(await db.query(`select id from tenant where id = $1`, [tenant.id])).toEqual([]);
    expect(await db.query(`select id from lakehouse.tenant_catalogs where tenant_id = $1`, [tenant.id])).toEqual([]);
    expect(await db.query(`select id from tenant_api_key where tenant_id = $1`, [tenant.id])).toEqual([]);
    // Compensating again (nothing left) is harmless.
    for (const s of [...TENANT_STEPS].reverse()) await s.compensate(deps(), tenant);
  });

  it("step 3 compensation empties the tenant schema back to what step 2 left", async () => {
    const tenant = tenantRef("half-way");
    for (const s of TENANT_STEPS.slice(0, 3)) await s.run(deps(), tenant);
    await step("step_3").compensate(deps(), tenant);
    expect(await schemas("tenant_half_way")).toEqual(["tenant_half_way"]);
    expect(await db.query(`select table_name from information_schema.tables where table_schema = 'tenant_half_way'`)).toEqual([]);
    // And the migrations apply again from scratch.
    expect(await step("step_3").run(deps(), tenant)).toMatchObject({ applied: ["001", "002"] });
  });

  it("names a failing migration, keeps the earlier ones, and resumes once the file is fixed", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-tenant-sql-"));
    try {
      fs.cpSync(FIXTURE, dir, { recursive: true });
      const tenant = tenantRef("broken-mig");
      const d = deps({ tenantMigrationsDir: dir });
      await step("step_1").run(d, tenant);
      await step("step_2").run(d, tenant);
      await expect(step("step_3").run(d, tenant)).rejects.toThrow(
        /^Migration 027b failed: relation "missing_table" does not exist$/,
      );
      expect(await db.query(`select version from tenant_broken_mig.schema_migrations`)).toEqual([{ version: "001" }]);
      expect(await db.query(`select to_regclass('tenant_broken_mig.widget_name_idx') as idx`)).toEqual([{ idx: null }]);

      fs.writeFileSync(path.join(dir, "027b_backfill.sql"), "insert into widget (id, name) values (1, 'first');\n");
      expect(await step("step_3").run(d, tenant)).toMatchObject({ applied: ["027b", "030"], total: 3 });
      expect(await db.query(`select name from tenant_broken_mig.widget`)).toEqual([{ name: "first" }]);

      // An applied migration is never edited in place.
      fs.writeFileSync(path.join(dir, "001_core.sql"), "select 1;\n");
      await expect(step("step_3").run(d, tenant)).rejects.toThrow("Migration 001 was changed after it was applied");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([`a"; drop schema public; --`, "Robert'); drop table tenant;--", "UPPER", "ab", "a--b;", "a b c"])(
    "refuses the slug %j before any SQL runs",
    async (slug) => {
      const tenant = tenantRef(slug);
      const before = queries;
      for (const s of TENANT_STEPS) {
        await expect(s.run(deps(), tenant)).rejects.toMatchObject({ code: "BAD_USER_INPUT", field: "slug" });
        await expect(s.compensate(deps(), tenant)).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
      }
      expect(queries).toBe(before);
      expect(await schemas("public")).toEqual(["public"]);
    },
  );

  it("refuses a slug whose derived names exceed PostgreSQL's 63-byte identifiers", async () => {
    const long = `a${"b".repeat(38)}c`; // 40 chars: valid slug, too long with a 20-char prefix
    await expect(
      step("step_1").run(deps({ namespacePrefix: "p".repeat(20) }), tenantRef(long)),
    ).rejects.toMatchObject({ code: "BAD_USER_INPUT", field: "slug" });
  });

  it("never adopts or drops a schema it does not own", async () => {
    await db.query(`create schema tenant_squatter; create table tenant_squatter.precious (id int)`);
    const tenant = tenantRef("squatter");
    await step("step_1").run(deps(), tenant);
    await expect(step("step_2").run(deps(), tenant)).rejects.toThrow(/already exists and belongs to something else/);
    await expect(step("step_2").compensate(deps(), tenant)).rejects.toThrow(/not owned by this tenant/);
    expect(await db.query(`select to_regclass('tenant_squatter.precious') is not null as kept`)).toEqual([{ kept: true }]);
    // The staging naming collision (tenant `x` source `y-z` vs tenant `x-y` base) is caught the same way.
    await db.query(`create schema ${stagingBaseSchemaName("gantry", "coll-ide")}`);
    await expect(step("step_6").run(deps(), tenantRef("coll-ide"))).rejects.toThrow(/belongs to something else/);
  });

  it("creates and drops the namespace through an Iceberg REST catalog when one is configured", async () => {
    const requests: { method: string; url: string; body: unknown }[] = [];
    const existing = new Set<string>();
    const server = http.createServer((req, res) => {
      let text = "";
      req.on("data", (c: Buffer) => (text += c.toString()));
      req.on("end", () => {
        const body = text ? (JSON.parse(text) as { namespace: string[] }) : null;
        requests.push({ method: req.method!, url: req.url!, body });
        res.setHeader("content-type", "application/json");
        if (req.method === "POST" && req.url === "/catalog/v1/namespaces") {
          const name = body!.namespace.join(".");
          if (existing.has(name)) {
            res.statusCode = 409;
            res.end(JSON.stringify({ error: { message: "Namespace already exists", type: "AlreadyExistsException", code: 409 } }));
            return;
          }
          existing.add(name);
          res.end(JSON.stringify({ namespace: body!.namespace, properties: {} }));
        } else if (req.method === "DELETE" && req.url?.startsWith("/catalog/v1/namespaces/")) {
          const name = decodeURIComponent(req.url.slice("/catalog/v1/namespaces/".length));
          res.statusCode = existing.delete(name) ? 204 : 404;
          res.end();
        } else {
          res.statusCode = 400;
          res.end(JSON.stringify({ error: { message: "unexpected", type: "BadRequestException", code: 400 } }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as { port: number };
      const d = deps({ icebergCatalogUrl: `http://127.0.0.1:${port}/catalog/` });
      const tenant = tenantRef("ice-berg");
      expect(await step("step_5").run(d, tenant)).toEqual({ namespace: "gantry_tenant_ice_berg", backend: "iceberg", outcome: "created" });
      expect(await step("step_5").run(d, tenant)).toMatchObject({ outcome: "existed" });
      expect(requests[0]).toEqual({
        method: "POST",
        url: "/catalog/v1/namespaces",
        body: { namespace: ["gantry_tenant_ice_berg"], properties: { "gantry.tenant-id": tenant.id, "gantry.tenant-slug": "ice-berg" } },
      });
      expect(await schemas("gantry_tenant_ice_berg")).toEqual([]);
      await step("step_5").compensate(d, tenant);
      await step("step_5").compensate(d, tenant);
      expect(requests.slice(2).map((r) => `${r.method} ${r.url}`)).toEqual([
        "DELETE /catalog/v1/namespaces/gantry_tenant_ice_berg",
        "DELETE /catalog/v1/namespaces/gantry_tenant_ice_berg",
      ]);
      expect(existing.size).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
