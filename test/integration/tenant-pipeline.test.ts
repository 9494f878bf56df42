/**
 * The tenant pipeline end to end on a real server: createTenant over GraphQL, the engine's worker
 * running the nine steps, the projection on the tenant row, resume after a failing migration,
 * rollback, concurrent creates, and the errors of the contract.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { print } from "graphql";
import {
  CreateTenantDocument,
  DeprovisionTenantDocument,
  RollbackWorkflowDocument,
  TenantProvisioningChangedDocument,
  TenantStatusDocument,
  ViewerDocument,
} from "../../schema/generated/operations.js";
import { bundledMigrationsDir } from "../../src/tenants/steps/index.js";
import type { StoredEvent } from "../../src/events/index.js";
import type { TenantEventPayload } from "../../src/tenants/events.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";

const ALL_STEPS = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `step_${n}`);
const TERMINAL = new Set(["ACTIVE", "FAILED", "DEPROVISIONED"]);
const WORKFLOW_DONE = new Set(["COMPLETED", "FAILED", "ROLLED_BACK", "CANCELLED"]);

describe("tenant provisioning pipeline", () => {
  let t: TestGantry;
  let sqlDir: string;

  beforeAll(async () => {
    sqlDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-tenant-sql-"));
    fs.cpSync(bundledMigrationsDir(), sqlDir, { recursive: true });
    t = await startTestGantry({ env: { GANTRY_TENANT_MIGRATIONS_DIR: sqlDir } });
  });
  afterAll(async () => {
    await t.stop();
    fs.rmSync(sqlDir, { recursive: true, force: true });
  });

  /** Waits (on the tenant's events, from the start) until the pipeline reaches a terminal state. */
  async function settled(slug: string, since = 0, timeoutMs = 20_000): Promise<TenantEventPayload> {
    const events = t.gantry.services.events.subscribe({ topics: [`tenant:${slug}`] }, since);
    const timer = setTimeout(() => void events.return?.(), timeoutMs);
    try {
      for await (const event of events as AsyncIterable<StoredEvent>) {
        const payload = event.payload as TenantEventPayload;
        if (TERMINAL.has(payload.tenant.provisioningState) && WORKFLOW_DONE.has(payload.workflowStatus ?? "")) return payload;
      }
    } finally {
      clearTimeout(timer);
      await events.return?.();
    }
    throw new Error(`tenant ${slug} did not settle within ${timeoutMs} ms`);
  }

  async function head(): Promise<number> {
    const [row] = await t.db.query<{ head: string | null }>(`select max(sequence) as head from event`);
    return Number(row?.head ?? 0);
  }

  async function stepAttempts(slug: string): Promise<Record<string, number>> {
    const rows = await t.db.query<{ name: string; attempt: number }>(
      `select s.name, s.attempt from workflow_step s join workflow w on w.id = s.workflow_id join tenant t on t.id = w.tenant_id
        where t.slug = $1 order by s.position`,
      [slug],
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.attempt]));
  }

  async function stepStarts(slug: string): Promise<string[]> {
    const rows = await t.db.query<{ step: string }>(
      `select e.payload->'step'->>'name' as step from event e join workflow w on e.topic = 'workflow:' || w.id
         join tenant t on t.id = w.tenant_id where t.slug = $1 and e.type = 'step.started' order by e.sequence`,
      [slug],
    );
    return rows.map((r) => r.step);
  }

  it("takes a tenant to ACTIVE with step_1 … step_9, its schema, migrations, catalog and namespace", async () => {
    const since = await head();
    const res = await t.gql(CreateTenantDocument, { input: { slug: "acme", name: "Acme Inc." } }, t.admin);
    expect(res.errors).toBeUndefined();
    expect(res.data?.createTenant).toMatchObject({ slug: "acme", name: "Acme Inc.", provisioningState: "PROVISIONING" });

    const final = await settled("acme", since);
    expect(final.tenant).toMatchObject({ provisioningState: "ACTIVE", completedSteps: ALL_STEPS, failedSteps: [], lastError: null });
    const status = await t.gql(TenantStatusDocument, { slug: "acme" }, t.admin);
    expect(status.data?.tenantStatus).toMatchObject({
      tenantId: res.data!.createTenant.id,
      provisioningState: "ACTIVE",
      completedSteps: ALL_STEPS,
      failedSteps: [],
      lastError: null,
    });
    const schemas = await t.db.query(`select nspname from pg_namespace where nspname like '%acme%' order by 1`);
    expect(schemas.map((s) => s.nspname)).toEqual(["gantry_staging_acme", "gantry_tenant_acme", "tenant_acme"]);
    expect(await t.db.query(`select version from tenant_acme.schema_migrations order by 1`)).toEqual([{ version: "001" }, { version: "002" }]);
    expect(await t.db.query(`select name, status from lakehouse.tenant_catalogs where tenant_id = $1`, [res.data!.createTenant.id])).toEqual([
      { name: "lakehouse", status: "ACTIVE" },
    ]);

    // Re-submitting an ACTIVE tenant changes nothing and starts nothing.
    const again = await t.gql(CreateTenantDocument, { input: { slug: "acme", name: "Other" } }, t.admin);
    expect(again.data?.createTenant).toMatchObject({ id: res.data!.createTenant.id, name: "Acme Inc.", provisioningState: "ACTIVE" });
    expect(await t.db.query(`select count(*)::int as n from workflow where tenant_id = $1`, [res.data!.createTenant.id])).toEqual([{ n: 1 }]);
  });

  it("fails at a broken migration, naming it, then resumes at step_3 once fixed without re-running steps 1–2", async () => {
    const broken = path.join(sqlDir, "027b_backfill.sql");
    fs.writeFileSync(broken, "insert into dataset (name) select name from missing_table;\n");
    try {
      const since = await head();
      await t.gql(CreateTenantDocument, { input: { slug: "broken", name: "Broken" } }, t.admin);
      const failed = await settled("broken", since);
      expect(failed.tenant).toMatchObject({
        provisioningState: "FAILED",
        completedSteps: ["step_1", "step_2"],
        failedSteps: ["step_3"],
        lastError: 'step_3: Migration 027b failed: relation "missing_table" does not exist',
      });
      const status = await t.gql(TenantStatusDocument, { slug: "broken" }, t.admin);
      expect(status.data?.tenantStatus.lastError).toBe(failed.tenant.lastError);
      expect(await t.db.query(`select version from tenant_broken.schema_migrations order by 1`)).toEqual([{ version: "001" }, { version: "002" }]);
      const before = await stepAttempts("broken");
      expect(before).toMatchObject({ step_1: 1, step_2: 1, step_3: 2 });

      fs.writeFileSync(broken, "insert into dataset (name) values ('backfilled');\n");
      const resumedAt = await head();
      const resumed = await t.gql(CreateTenantDocument, { input: { slug: "broken", name: "Broken" } }, t.admin);
      expect(resumed.data?.createTenant).toMatchObject({ provisioningState: "PROVISIONING", completedSteps: ["step_1", "step_2"], failedSteps: [] });
      const done = await settled("broken", resumedAt);
      expect(done.tenant).toMatchObject({ provisioningState: "ACTIVE", completedSteps: ALL_STEPS, failedSteps: [], lastError: null });

      // Steps 1 and 2 were not executed again: same attempt, one start each in the history.
      const after = await stepAttempts("broken");
      expect(after.step_1).toBe(1);
      expect(after.step_2).toBe(1);
      const starts = await stepStarts("broken");
      expect(starts.filter((s) => s === "step_1")).toHaveLength(1);
      expect(starts.filter((s) => s === "step_2")).toHaveLength(1);
      expect(starts.filter((s) => s === "step_3")).toHaveLength(3);
      expect(await t.db.query(`select version from tenant_broken.schema_migrations order by 1`)).toEqual([
        { version: "001" },
        { version: "002" },
        { version: "027b" },
      ]);
      expect(await t.db.query(`select count(*)::int as n from workflow w join tenant t on t.id = w.tenant_id where t.slug = 'broken'`)).toEqual([{ n: 1 }]);
    } finally {
      fs.rmSync(broken, { force: true });
    }
  });

  it("rolls back a failed pipeline, dropping what it created; createTenant then starts over", async () => {
    const broken = path.join(sqlDir, "003_fail.sql");
    fs.writeFileSync(broken, "select 1 / 0;\n");
    try {
      const since = await head();
      const created = await t.gql(CreateTenantDocument, { input: { slug: "doomed", name: "Doomed" } }, t.admin);
      const tenantId = created.data!.createTenant.id;
      const failed = await settled("doomed", since);
      expect(failed.tenant.lastError).toBe("step_3: Migration 003 failed: division by zero");
      expect(await t.db.query(`select nspname from pg_namespace where nspname = 'tenant_doomed'`)).toHaveLength(1);

      const rollbackAt = await head();
      const rollback = await t.gql(RollbackWorkflowDocument, { id: failed.workflowId!, reason: "broken migration" }, t.admin);
      expect(rollback.errors).toBeUndefined();
      const rolledBack = await settled("doomed", rollbackAt);
      expect(rolledBack.workflowStatus).toBe("ROLLED_BACK");
      expect(rolledBack.tenant).toMatchObject({ provisioningState: "FAILED", completedSteps: [] });
      expect(await t.db.query(`select nspname from pg_namespace where nspname like '%doomed%'`)).toEqual([]);
      // The tenant row stays, holding the history of the rolled-back pipeline.
      expect(await t.db.query(`select provisioning_state from tenant where id = $1`, [tenantId])).toEqual([{ provisioning_state: "FAILED" }]);

      fs.rmSync(broken);
      const restartAt = await head();
      await t.gql(CreateTenantDocument, { input: { slug: "doomed", name: "Doomed" } }, t.admin);
      const done = await settled("doomed", restartAt);
      expect(done.tenant).toMatchObject({ provisioningState: "ACTIVE", completedSteps: ALL_STEPS });
      expect(await t.db.query(`select status from workflow where tenant_id = $1 order by created_at`, [tenantId])).toEqual([
        { status: "ROLLED_BACK" },
        { status: "COMPLETED" },
      ]);
    } finally {
      fs.rmSync(broken, { force: true });
    }
  });

  it("creates one tenant and one workflow from concurrent calls for one slug", async () => {
    const since = await head();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => t.gql(CreateTenantDocument, { input: { slug: "twin", name: "Twin" } }, t.admin)),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => r.data!.createTenant.id)).size).toBe(1);
    expect(await t.db.query(`select count(*)::int as n from workflow w join tenant t on t.id = w.tenant_id where t.slug = 'twin'`)).toEqual([{ n: 1 }]);
    expect((await settled("twin", since)).tenant.provisioningState).toBe("ACTIVE");
  });

  it("streams every step change to an admin subscriber", async () => {
    const client = t.wsClient({ "x-api-key": t.adminKey });
    await t.gql(CreateTenantDocument, { input: { slug: "live", name: "Live" } }, t.admin);
    const events = client.iterate({ query: print(TenantProvisioningChangedDocument), variables: { slug: "live" } });
    const seen: { type: string; state: string; steps: string[] }[] = [];
    for await (const result of events) {
      const e = result.data!.tenantProvisioningChanged as {
        type: string;
        tenant: { provisioningState: string };
        steps: { name: string; status: string }[];
        workflowStatus: string | null;
      };
      seen.push({ type: e.type, state: e.tenant.provisioningState, steps: e.steps.map((s) => `${s.name}:${s.status}`) });
      if (e.tenant.provisioningState === "ACTIVE" && e.workflowStatus === "COMPLETED") break;
    }
    expect(seen[0]!.type).toBe("tenant.snapshot");
    expect(seen.at(-1)!.steps).toEqual(ALL_STEPS.map((s) => `${s}:COMPLETED`));
    // Steps moved one by one: some frame shows step_5 running.
    expect(seen.some((f) => f.steps.includes("step_5:RUNNING"))).toBe(true);

    // A later subscriber's snapshot is the finished pipeline, read from its workflow.
    const later = client.iterate({ query: print(TenantProvisioningChangedDocument), variables: { slug: "live" } });
    const snapshot = (await later.next()).value!.data!.tenantProvisioningChanged as { type: string; workflowStatus: string; steps: { status: string }[] };
    expect(snapshot).toMatchObject({ type: "tenant.snapshot", workflowStatus: "COMPLETED" });
    expect(snapshot.steps.map((s) => s.status)).toEqual(ALL_STEPS.map(() => "COMPLETED"));
    await later.return?.();
  });

  it("answers NOT_FOUND, BAD_USER_INPUT naming the rule, FORBIDDEN, and runs nothing for a hostile slug", async () => {
    expect((await t.gql(TenantStatusDocument, { slug: "nobody" }, t.admin)).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const bad = await t.gql(CreateTenantDocument, { input: { slug: "Bad_Slug", name: "x" } }, t.admin);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.slug" });
    expect(bad.errors?.[0]?.message).toContain("^[a-z][a-z0-9-]*[a-z0-9]$");
    const short = await t.gql(CreateTenantDocument, { input: { slug: "ab", name: "x" } }, t.admin);
    expect(short.errors?.[0]?.message).toContain("3–40 characters");
    const noName = await t.gql(CreateTenantDocument, { input: { slug: "no-name", name: "  " } }, t.admin);
    expect(noName.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.name" });

    const tenants = await t.db.query(`select count(*)::int as n from tenant`);
    const schemas = await t.db.query(`select count(*)::int as n from pg_namespace`);
    const hostile = await t.gql(CreateTenantDocument, { input: { slug: `a"; drop schema public; --`, name: "x" } }, t.admin);
    expect(hostile.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(await t.db.query(`select count(*)::int as n from tenant`)).toEqual(tenants);
    expect(await t.db.query(`select count(*)::int as n from pg_namespace`)).toEqual(schemas);

    const [acme] = await t.db.query<{ id: string }>(`select id from tenant where slug = 'acme'`);
    const token = await t.tokenFor(acme!.id);
    const forbidden = await t.gql(CreateTenantDocument, { input: { slug: "sneaky", name: "x" } }, { token });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await t.gql(TenantStatusDocument, { slug: "acme" }, { token })).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });

  it("refuses a tenant's token after deprovision; createTenant cannot revive it", async () => {
    const since = await head();
    const created = await t.gql(CreateTenantDocument, { input: { slug: "gone", name: "Gone" } }, t.admin);
    await settled("gone", since);
    const token = await t.tokenFor(created.data!.createTenant.id);
    expect((await t.gql(ViewerDocument, {}, { token })).data?.viewer.kind).toBe("TENANT");
    await t.gql(DeprovisionTenantDocument, { slug: "gone" }, t.admin);
    const refused = await t.gql(ViewerDocument, {}, { token });
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const revive = await t.gql(CreateTenantDocument, { input: { slug: "gone", name: "Gone" } }, t.admin);
    expect(revive.errors?.[0]?.extensions?.code).toBe("CONFLICT");
  });

  it("keeps the seed's REST endpoints: POST /v1/admin/tenants and GET /v1/admin/tenants/{slug}/status", async () => {
    const post = (body: unknown, headers: Record<string, string> = { "x-api-key": t.adminKey }) =>
      fetch(`${t.url}/v1/admin/tenants`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    const status = (slug: string, headers: Record<string, string> = { "x-api-key": t.adminKey }) =>
      fetch(`${t.url}/v1/admin/tenants/${encodeURIComponent(slug)}/status`, { headers });

    const since = await head();
    const created = await post({ slug: "rest-seed", name: "REST" });
    expect(created.status).toBe(202);
    const body = (await created.json()) as { data: Record<string, unknown>; meta: { request_id: string } };
    expect(body.data).toMatchObject({ slug: "rest-seed", provisioning_state: "provisioning", failed_steps: [], last_error: null });
    expect(body.meta.request_id).toBeTruthy();
    await settled("rest-seed", since);
    const done = (await (await status("rest-seed")).json()) as { data: Record<string, unknown> };
    expect(done.data).toEqual({
      tenant_id: body.data.tenant_id,
      slug: "rest-seed",
      provisioning_state: "active",
      completed_steps: ALL_STEPS,
      failed_steps: [],
      last_error: null,
      updated_at: expect.any(String),
    });

    expect((await status("no-such-tenant")).status).toBe(404);
    expect((await status("rest-seed", {})).status).toBe(401);
    expect((await status("rest-seed", { "x-api-key": "wrong-key-wrong-key" })).status).toBe(401);
    const token = await t.tokenFor(body.data.tenant_id as string);
    expect((await status("rest-seed", { authorization: `Bearer ${token}` })).status).toBe(403);
    const bad = await post({ slug: "Bad Slug", name: "x" });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { detail: { loc: string[] }[] }).detail[0]!.loc).toEqual(["body", "slug"]);
    expect((await post({ name: "x" })).status).toBe(422);
  });
});
