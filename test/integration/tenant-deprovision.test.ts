/**
 * Tenant credentials and deprovisioning over GraphQL: the one-time key pickup, `X-API-Key: gtk_…`
 * authentication, a tenant's own catalogs, and a deprovision that refuses the tenant's token and
 * key at once while keeping its data.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CatalogsDocument,
  DeprovisionTenantDocument,
  RegisterConnectorDocument,
  TenantCredentialsDocument,
  TenantProvisioningChangedDocument,
  ViewerDocument,
} from "../../schema/generated/operations.js";
import { print } from "graphql";
import { TENANT_STEPS, type StepDeps, type TenantRef } from "../../src/tenants/steps/index.js";
import { listEvents } from "../../src/events/index.js";
import { systemEm } from "../../src/db/orm.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";

/** The code of the first error a subscription answers with (as a result or as a rejection). */
async function firstErrorCode(events: AsyncIterator<{ errors?: readonly { extensions?: Record<string, unknown> }[] }>) {
  try {
    const first = await events.next();
    return first.value?.errors?.[0]?.extensions?.code;
  } catch (errs) {
    return (errs as { extensions?: Record<string, unknown> }[])[0]?.extensions?.code;
  }
}

describe("tenant credentials and deprovisioning", () => {
  let t: TestGantry;
  let deps: StepDeps;

  async function provision(slug: string): Promise<TenantRef> {
    const tenant = { id: randomUUID(), slug, name: slug };
    for (const step of TENANT_STEPS) await step.run(deps, tenant);
    return tenant;
  }

  beforeAll(async () => {
    t = await startTestGantry();
    deps = { orm: t.gantry.services.orm, config: t.gantry.services.config };
  });
  afterAll(() => t.stop());

  it("reveals a tenant's key once, and the key authenticates as that tenant", async () => {
    const tenant = await provision("keyed");
    const first = await t.gql(TenantCredentialsDocument, { slug: "keyed" }, t.admin);
    expect(first.errors).toBeUndefined();
    const apiKey = first.data!.tenantCredentials.apiKey;
    expect(apiKey).toMatch(/^gtk_[A-Za-z0-9_-]{43}$/);
    expect(first.data!.tenantCredentials.keyPrefix).toBe(apiKey.slice(0, 12));

    const again = await t.gql(TenantCredentialsDocument, { slug: "keyed" }, t.admin);
    expect(again.errors?.[0]?.extensions?.code).toBe("CONFLICT");
    const unknown = await t.gql(TenantCredentialsDocument, { slug: "no-such-tenant" }, t.admin);
    expect(unknown.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");

    const viewer = await t.gql(ViewerDocument, {}, { apiKey });
    expect(viewer.data?.viewer).toMatchObject({ kind: "TENANT", tenant: { id: tenant.id, slug: "keyed" } });
    const asTenant = await t.gql(TenantCredentialsDocument, { slug: "keyed" }, { apiKey });
    expect(asTenant.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(t.logs.join("\n")).not.toContain(apiKey);
  });

  it("lists a tenant's own catalogs only", async () => {
    const a = await provision("cat-a");
    await provision("cat-b");
    const token = await t.tokenFor(a.id);
    const res = await t.gql(CatalogsDocument, {}, { token });
    expect(res.data?.catalogs.nodes).toEqual([{ id: expect.any(String), name: "lakehouse", status: "ACTIVE" }]);
    const rows = await t.db.query(`select id from lakehouse.tenant_catalogs where tenant_id = $1`, [a.id]);
    expect(res.data?.catalogs.nodes[0]?.id).toBe(rows[0]!.id);
    const admin = await t.gql(CatalogsDocument, {}, t.admin);
    expect(admin.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });

  it("refuses non-admins, unknown slugs and bad slugs", async () => {
    const tenant = await provision("guarded");
    const token = await t.tokenFor(tenant.id);
    const forbidden = await t.gql(DeprovisionTenantDocument, { slug: "guarded" }, { token });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const missing = await t.gql(DeprovisionTenantDocument, { slug: "not-here" }, t.admin);
    expect(missing.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const bad = await t.gql(DeprovisionTenantDocument, { slug: `a"; drop schema public; --` }, t.admin);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "slug" });
    expect(bad.errors?.[0]?.message).toContain("^[a-z][a-z0-9-]*[a-z0-9]$");
  });

  it("after deprovision refuses the tenant's token and key, and keeps its data", async () => {
    const tenant = await provision("leaving");
    const apiKey = (await t.gql(TenantCredentialsDocument, { slug: "leaving" }, t.admin)).data!.tenantCredentials.apiKey;
    const token = await t.tokenFor(tenant.id);
    expect((await t.gql(ViewerDocument, {}, { token })).data?.viewer.kind).toBe("TENANT");
    expect((await t.gql(ViewerDocument, {}, { apiKey })).data?.viewer.kind).toBe("TENANT");
    const registered = await t.gql(
      RegisterConnectorDocument,
      { input: { sourceSystem: "shop", tapName: "tap-synthetic", destinationTable: "orders", config: { rows: 1 } } },
      { token },
    );
    const connectorId = registered.data!.registerConnector.connector.id;

    const res = await t.gql(DeprovisionTenantDocument, { slug: "leaving" }, t.admin);
    expect(res.data?.deprovisionTenant).toEqual({ id: tenant.id, slug: "leaving", provisioningState: "DEPROVISIONED" });

    const byToken = await t.gql(ViewerDocument, {}, { token });
    expect(byToken.status).toBe(401);
    expect(byToken.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const byKey = await t.gql(ViewerDocument, {}, { apiKey });
    expect(byKey.status).toBe(401);
    expect(await t.db.query(`select revoked_at is not null as revoked, pickup_envelope from tenant_api_key where tenant_id = $1`, [tenant.id])).toEqual([
      { revoked: true, pickup_envelope: null },
    ]);
    expect(await t.db.query(`select status, next_run_at from connector where id = $1`, [connectorId])).toEqual([
      { status: "PAUSED", next_run_at: null },
    ]);
    // Data kept: schema, migrations, catalog, namespace.
    expect(await t.db.query(`select count(*)::int as n from tenant_leaving.schema_migrations`)).toEqual([{ n: 2 }]);
    expect(await t.db.query(`select nspname from pg_namespace where nspname like '%leaving%' order by 1`)).toHaveLength(3);

    // Idempotent; the change is an event on the tenant's topic.
    const again = await t.gql(DeprovisionTenantDocument, { slug: "leaving" }, t.admin);
    expect(again.data?.deprovisionTenant.provisioningState).toBe("DEPROVISIONED");
    const events = await listEvents(systemEm(t.gantry.services.orm), { topics: ["tenant:leaving"], limit: 10 });
    expect(events.map((e) => e.type)).toEqual(["tenant.deprovisioned"]);
    expect(events[0]!.payload).toMatchObject({ tenant: { slug: "leaving", provisioningState: "DEPROVISIONED" } });
  });

  it("refuses to deprovision a tenant whose pipeline is still running", async () => {
    await t.db.query(`insert into tenant (id, slug, name) values ($1, 'midway', 'Midway')`, [randomUUID()]);
    const res = await t.gql(DeprovisionTenantDocument, { slug: "midway" }, t.admin);
    expect(res.errors?.[0]?.extensions?.code).toBe("CONFLICT");
  });

  it("streams a snapshot, then the tenant's changes, to admins only", async () => {
    const tenant = await provision("watched");
    const admin = t.wsClient({ "x-api-key": t.adminKey });
    const events = admin.iterate({ query: print(TenantProvisioningChangedDocument), variables: { slug: "watched" } });
    const first = await events.next();
    expect(first.value?.data?.tenantProvisioningChanged).toMatchObject({
      type: "tenant.snapshot",
      tenant: { tenantId: tenant.id, provisioningState: "ACTIVE", completedSteps: [] },
      steps: expect.arrayContaining([{ name: "step_3", title: "Apply the tenant's SQL migrations", position: 3, status: "PENDING", attempt: 0, error: null }]),
    });
    const snapshotSequence = first.value!.data!.tenantProvisioningChanged.sequence as number;
    await t.gql(DeprovisionTenantDocument, { slug: "watched" }, t.admin);
    const second = await events.next();
    const changed = second.value!.data!.tenantProvisioningChanged;
    expect(changed).toMatchObject({ type: "tenant.deprovisioned", tenant: { provisioningState: "DEPROVISIONED" }, steps: [] });
    expect(changed.sequence).toBeGreaterThan(snapshotSequence);
    await events.return?.();

    // `since` replays what came after it, with no snapshot.
    const replay = admin.iterate({ query: print(TenantProvisioningChangedDocument), variables: { slug: "watched", since: snapshotSequence } });
    expect((await replay.next()).value?.data?.tenantProvisioningChanged).toMatchObject({ type: "tenant.deprovisioned", sequence: changed.sequence });
    await replay.return?.();

    const unknown = admin.iterate({ query: print(TenantProvisioningChangedDocument), variables: { slug: "nobody-here" } });
    expect(await firstErrorCode(unknown)).toBe("NOT_FOUND");

    const token = await t.tokenFor((await provision("other-one")).id);
    const asTenant = t.wsClient({ authorization: `Bearer ${token}` });
    const refused = asTenant.iterate({ query: print(TenantProvisioningChangedDocument), variables: { slug: "watched" } });
    expect(await firstErrorCode(refused)).toBe("FORBIDDEN");
  });

  it("pauses the tenant's connectors on deprovision (and only its own)", async () => {
    const tenant = await provision("with-connectors");
    const other = await provision("other-connectors");
    const [exists] = await t.db.query<{ found: boolean }>(`select to_regclass('public.connector') is not null as found`);
    const row = (tenantId: string, status: string, nextRun: boolean, requested: boolean) => [tenantId, status, nextRun, requested];
    const rows = [row(tenant.id, "ACTIVE", true, true), row(tenant.id, "ERROR", false, false), row(other.id, "ACTIVE", true, false)];
    if (!exists!.found) {
      // Before the connectors domain lands: only the columns the hook touches.
      await t.db.query(`create table connector (id uuid primary key, tenant_id uuid not null references tenant (id),
        status text not null, next_run_at timestamptz(3), sync_requested_at timestamptz(3), updated_at timestamptz(3) not null default now())`);
      for (const [tenantId, status, nextRun, requested] of rows) {
        await t.db.query(
          `insert into connector (id, tenant_id, status, next_run_at, sync_requested_at)
           values (gen_random_uuid(), $1, $2, case when $3 then now() end, case when $4 then now() end)`,
          [tenantId, status, nextRun, requested],
        );
      }
    } else {
      // With the connectors domain merged: rows of its real table.
      for (const [tenantId, status, nextRun, requested] of rows) {
        await t.db.query(
          `insert into connector (id, tenant_id, source_system, tap_name, destination_catalog, destination_table, lakehouse_namespace,
             sync_schedule, meltano_environment, webhook_secret_envelope, status, next_run_at, sync_requested_at)
           values (gen_random_uuid(), $1, 'src', 'tap-synthetic', 'lakehouse', 't', 'ns', '0 2 * * *', 'prod', 'x', $2,
             case when $3 then now() end, case when $4 then now() end)`,
          [tenantId, status, nextRun, requested],
        );
      }
    }
    await t.gql(DeprovisionTenantDocument, { slug: "with-connectors" }, t.admin);
    expect(await t.db.query(`select status, next_run_at, sync_requested_at from connector where tenant_id = $1`, [tenant.id])).toEqual([
      { status: "PAUSED", next_run_at: null, sync_requested_at: null },
      { status: "PAUSED", next_run_at: null, sync_requested_at: null },
    ]);
    expect(await t.db.query(`select status from connector where tenant_id = $1`, [other.id])).toEqual([{ status: "ACTIVE" }]);
    if (!exists!.found) await t.db.query(`drop table connector`);
  });
});
