/**
 * Isolation matrix (issue 8, part 3), generated from the schema: every query, mutation and
 * subscription is called by tenant A on tenant B's real ids (connector, run, workflow, step,
 * catalog, slug). Tenant-scoped operations answer NOT_FOUND, admin operations FORBIDDEN, and
 * operations on the caller's own data ("own") answer without one byte of B. B's rows are
 * fingerprinted before and after. A field the matrix does not list fails the first test, so a
 * new operation cannot ship without its case. Then a deprovisioned tenant's token is refused by
 * every operation over HTTP and graphql-ws (a new socket and one opened before the deprovision)
 * and by the REST routes.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "graphql-ws";
import { buildGantrySchema } from "../../resolvers/index.js";
import { DeprovisionTenantDocument, SetFieldMappingsDocument, StartServiceProvisioningDocument } from "../../schema/generated/operations.js";
import { createTenant, register } from "../helpers/connectors.js";
import { eventsUntil, isWorkflowEvent } from "../helpers/engine.js";
import { documentFor, rootFields, type RootField } from "../helpers/operations.js";
import { recordReliability, type ReliabilityFigure } from "../helpers/reliability.js";
import { noteSecret, scanForSecrets } from "../helpers/secrets.js";
import { closeCodeFor, startTestGantry, type TestGantry } from "../helpers/server.js";
import { startTestService, writeCatalogue, type TestService } from "../helpers/test-service.js";

interface BIds {
  tenantId: string;
  slug: string;
  connectorId: string;
  runId: string;
  workflowId: string;
  stepName: string;
}

type Expect = "NOT_FOUND" | "FORBIDDEN" | "own";

interface MatrixCase {
  expect: Expect;
  /** Variables naming B's rows (or A's own input for "own" operations). */
  vars?: (b: BIds) => Record<string, unknown>;
}

const MAPPING = [{ stream: "accounts", sourceField: "id", destinationColumn: "id", isKey: true }];

/** Every root field of the schema must be here (or in EXEMPT, with the reason). */
const MATRIX: Record<string, MatrixCase> = {
  "Query.adminWorkflows": { expect: "FORBIDDEN", vars: (b) => ({ filter: { tenantId: b.tenantId } }) },
  "Query.catalogs": { expect: "own" },
  "Query.connector": { expect: "NOT_FOUND", vars: (b) => ({ id: b.connectorId }) },
  "Query.connectorRuns": { expect: "NOT_FOUND", vars: (b) => ({ connectorId: b.connectorId }) },
  "Query.connectors": { expect: "own" },
  // B has a "svc" workflow in flight; A has none yet: null, never B's.
  "Query.provisioningStatus": { expect: "own", vars: () => ({ serviceSlug: "svc" }) },
  "Query.services": { expect: "own" },
  "Query.tenantStatus": { expect: "FORBIDDEN", vars: (b) => ({ slug: b.slug }) },
  "Query.tenants": { expect: "FORBIDDEN" },
  "Query.viewer": { expect: "own" },
  "Query.workflow": { expect: "NOT_FOUND", vars: (b) => ({ id: b.workflowId }) },
  "Query.workflows": { expect: "own", vars: () => ({ serviceSlug: "svc" }) },
  "Mutation.cancelWorkflow": { expect: "FORBIDDEN", vars: (b) => ({ id: b.workflowId }) },
  "Mutation.createTenant": { expect: "FORBIDDEN", vars: (b) => ({ input: { slug: b.slug, name: "taken over" } }) },
  "Mutation.deleteConnector": { expect: "NOT_FOUND", vars: (b) => ({ id: b.connectorId }) },
  "Mutation.deprovisionTenant": { expect: "FORBIDDEN", vars: (b) => ({ slug: b.slug }) },
  "Mutation.forceCompleteWorkflow": { expect: "FORBIDDEN", vars: (b) => ({ id: b.workflowId }) },
  "Mutation.pauseConnector": { expect: "NOT_FOUND", vars: (b) => ({ id: b.connectorId }) },
  // Same destination table as B's connector: A gets its own connector, B's is untouched.
  "Mutation.registerConnector": { expect: "own", vars: () => ({ input: { sourceSystem: "salesforce", tapName: "tap-salesforce", destinationTable: "accounts" } }) },
  "Mutation.resumeConnector": { expect: "NOT_FOUND", vars: (b) => ({ id: b.connectorId }) },
  "Mutation.retryWorkflowStep": { expect: "FORBIDDEN", vars: (b) => ({ workflowId: b.workflowId, stepName: b.stepName }) },
  "Mutation.rollbackWorkflow": { expect: "FORBIDDEN", vars: (b) => ({ id: b.workflowId }) },
  "Mutation.setFieldMappings": { expect: "NOT_FOUND", vars: (b) => ({ connectorId: b.connectorId, mappings: MAPPING }) },
  // B's "svc" workflow is in flight: A must get a workflow of its own, not B's.
  "Mutation.startServiceProvisioning": { expect: "own", vars: () => ({ serviceSlug: "svc" }) },
  "Mutation.tenantCredentials": { expect: "FORBIDDEN", vars: (b) => ({ slug: b.slug }) },
  "Mutation.triggerConnectorSync": { expect: "NOT_FOUND", vars: (b) => ({ id: b.connectorId }) },
  "Subscription.connectorRunChanged": { expect: "NOT_FOUND", vars: (b) => ({ connectorId: b.connectorId, since: 0 }) },
  "Subscription.tenantProvisioningChanged": { expect: "FORBIDDEN", vars: (b) => ({ slug: b.slug, since: 0 }) },
  "Subscription.workflowChanged": { expect: "own", vars: () => ({ since: 0 }) },
  "Subscription.workflowStepChanged": { expect: "NOT_FOUND", vars: (b) => ({ workflowId: b.workflowId, since: 0 }) },
};

/** Root fields deliberately left out of the matrix, each with the reason. None today. */
const EXEMPT: Record<string, string> = {};

/** The first message of a subscription: a result, or the errors it was refused with. */
function firstOf(client: Client, query: string, variables: Record<string, unknown>): Promise<{ data?: unknown; errors?: { extensions?: { code?: string } }[] }> {
  return new Promise((resolve) => {
    let dispose = () => {};
    dispose = client.subscribe(
      { query, variables },
      {
        next: (v) => {
          resolve(v as never);
          dispose();
        },
        error: (e) => resolve({ errors: Array.isArray(e) ? (e as never) : [{ extensions: { code: `transport: ${String((e as { code?: number }).code ?? e)}` } }] }),
        complete: () => resolve({ errors: [{ extensions: { code: "completed without a result" } }] }),
      },
    );
  });
}

describe("isolation matrix, generated from the schema", () => {
  let svc: TestService;
  let t: TestGantry;
  let roots: RootField[];
  let b: BIds;
  let bSecrets: string[];
  let tokenA: string;
  let tokenC: string;
  let slugC: string;
  const toA: string[] = [];
  const figures: ReliabilityFigure[] = [];

  /** Every row of B: in each table with a tenant_id, B's steps and its tenant row. */
  async function bRows(): Promise<string> {
    const tables = await t.db.query<{ s: string; t: string }>(
      `select table_schema as s, table_name as t from information_schema.columns
        where column_name = 'tenant_id' and table_schema in ('public', 'lakehouse') order by 1, 2`,
    );
    const out: string[] = [];
    for (const { s, t: table } of tables) {
      const rows = await t.db.query(`select x::text as r from "${s}"."${table}" x where tenant_id = $1 order by 1`, [b.tenantId]);
      out.push(`${s}.${table}: ${rows.map((r) => r.r).join("|")}`);
    }
    const steps = await t.db.query(`select s::text as r from workflow_step s join workflow w on w.id = s.workflow_id where w.tenant_id = $1 order by 1`, [b.tenantId]);
    const tenant = await t.db.query(`select x::text as r from tenant x where id = $1`, [b.tenantId]);
    return [...out, steps.map((r) => r.r).join("|"), tenant.map((r) => r.r).join("|")].join("\n");
  }

  /** Every identifier of B (ids of all its rows, its slug and name) that A must never see. */
  async function bIdentifiers(): Promise<string[]> {
    const rows = await t.db.query<{ v: string }>(
      `select id::text as v from connector where tenant_id = $1 union select id::text from connector_run where tenant_id = $1
       union select id::text from workflow where tenant_id = $1 union select s.id::text from workflow_step s join workflow w on w.id = s.workflow_id where w.tenant_id = $1
       union select id::text from lakehouse.tenant_catalogs where tenant_id = $1 union select id::text from connector_field_mapping where tenant_id = $1
       union select $1::text union select slug from tenant where id = $1 union select name from tenant where id = $1`,
      [b.tenantId],
    );
    return rows.map((r) => r.v);
  }

  beforeAll(async () => {
    svc = await startTestService({ "POST /cb": () => ({ status: 202, body: {} }) });
    const file = await writeCatalogue([{ slug: "svc", name: "Svc", steps: [{ name: "confirm", kind: "callback", url: `${svc.url}/cb`, timeoutMs: 3_600_000 }] }]);
    t = await startTestGantry({ env: { GANTRY_SERVICES: file, GANTRY_ROLES: "api,worker" } });
    roots = rootFields(await buildGantrySchema());
    const a = await createTenant(t.db, "iso-alpha");
    const bId = await createTenant(t.db, "iso-bravo");
    slugC = "iso-charlie";
    const c = await createTenant(t.db, slugC);
    tokenA = await t.tokenFor(a);
    const tokenB = await t.tokenFor(bId);
    tokenC = await t.tokenFor(c);
    for (const [tok, label] of [[tokenA, "tenant JWT"], [tokenB, "tenant JWT"], [tokenC, "tenant JWT"], [t.adminKey, "admin key"], [t.jwtSecret, "JWT secret"]] as const) {
      noteSecret(tok, label);
    }
    await register(t, tokenA, { destinationTable: "own_table" });
    const tapSecret = `b-tap-secret-${randomUUID()}`;
    noteSecret(tapSecret, "tap config value");
    const cb = await register(t, tokenB, { config: { password: tapSecret } });
    noteSecret(cb.webhookSecret, "webhook secret");
    bSecrets = [cb.webhookSecret, tapSecret];
    await t.gql(SetFieldMappingsDocument, { connectorId: cb.connector.id, mappings: MAPPING }, { token: tokenB });
    const runId = randomUUID();
    await t.db.query(`insert into connector_run (id, tenant_id, connector_id, status, trigger) values ($1, $2, $3, 'QUEUED', 'MANUAL')`, [runId, bId, cb.connector.id]);
    const wf = (await t.gql(StartServiceProvisioningDocument, { serviceSlug: "svc" }, { token: tokenB })).data!.startServiceProvisioning;
    await eventsUntil(t, wf.id, (e) => e.type === "step.waiting_callback");
    noteSecret((await svc.nextRequest("POST /cb")).body.callback_token as string, "callback token");
    b = { tenantId: bId, slug: "iso-bravo", connectorId: cb.connector.id, runId, workflowId: wf.id, stepName: "confirm" };
  });
  afterAll(async () => {
    await t.stop();
    await svc.close();
  });

  it("has a case (or a reasoned exemption) for every query, mutation and subscription", () => {
    const keys = roots.map((r) => r.key);
    expect(keys.filter((k) => !(k in MATRIX) && !(k in EXEMPT))).toEqual([]);
    expect(Object.keys(MATRIX).filter((k) => !keys.includes(k))).toEqual([]);
    expect(roots.filter((r) => r.kind === "subscription").length).toBeGreaterThan(0);
  });

  it("answers tenant A on B's ids with NOT_FOUND / FORBIDDEN, shows nothing of B, and changes none of B's rows", async () => {
    const before = await bRows();
    const identifiers = await bIdentifiers();
    expect(identifiers.length).toBeGreaterThanOrEqual(8);
    const ws = t.wsClient({ authorization: `Bearer ${tokenA}` }, { lazy: false });
    const wrong: string[] = [];
    let crossTenant = 0;
    // Queries first (provisioningStatus must run before A starts its own), then mutations, then subscriptions.
    for (const root of roots) {
      const c = MATRIX[root.key];
      if (!c) continue;
      const { query, variables } = documentFor(root, c.vars?.(b) ?? {});
      let answer: { data?: unknown; errors?: readonly { extensions?: Record<string, unknown> }[] };
      if (root.kind === "subscription" && root.name === "workflowChanged") {
        answer = await ownWorkflowEvents(ws, query, variables);
      } else if (root.kind === "subscription") {
        answer = await firstOf(ws, query, variables);
      } else {
        answer = await t.gql(query, variables, { token: tokenA });
      }
      const text = JSON.stringify(answer);
      toA.push(text);
      const code = answer.errors?.[0]?.extensions?.code;
      if (c.expect === "own" ? answer.errors !== undefined : code !== c.expect) wrong.push(`${root.key}: expected ${c.expect}, got ${text.slice(0, 300)}`);
      // An error may name the id the caller sent ("Connector <id> not found"): an echo, not B's data.
      const sent = JSON.stringify(variables);
      const seen = identifiers.filter((id) => text.includes(id) && !sent.includes(id));
      if (seen.length > 0) {
        crossTenant++;
        wrong.push(`${root.key}: answer shows B's ${seen.join(", ")}`);
      }
    }
    const after = await bRows();
    figures.push(
      { figure: "operations in the schema", value: roots.length },
      { figure: "operations covered by the matrix", value: roots.filter((r) => r.key in MATRIX).length, target: `${roots.length}`, ok: roots.every((r) => r.key in MATRIX || r.key in EXEMPT) },
      { figure: "cross-tenant cases", value: Object.keys(MATRIX).length },
      { figure: "cross-tenant results", value: crossTenant, target: "0", ok: crossTenant === 0 },
      { figure: "wrong answers (code or shape)", value: wrong.length - crossTenant, target: "0", ok: wrong.length === crossTenant },
      { figure: "other tenant's rows changed", value: before === after ? 0 : 1, target: "0", ok: before === after },
    );
    expect(wrong).toEqual([]);
    expect(after).toEqual(before);
  });

  /** workflowChanged from sequence 0 as A, until A's own cancellation arrives: only A's workflows. */
  async function ownWorkflowEvents(ws: Client, query: string, variables: Record<string, unknown>) {
    const own = (await t.gql(`{ workflows(serviceSlug: "svc") { nodes { id } } }`, {}, { token: tokenA })) as { data?: { workflows: { nodes: { id: string }[] } } };
    const ownId = own.data!.workflows.nodes[0]!.id;
    const events: unknown[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const dispose = ws.subscribe(
        { query, variables },
        {
          next: (v) => {
            events.push(v);
            const e = (v.data as { workflowChanged?: { type: string; workflow: { id: string } } } | undefined)?.workflowChanged;
            if (v.errors || (e?.workflow.id === ownId && e.type === "workflow.cancelled")) {
              dispose();
              resolve();
            }
          },
          error: reject,
          complete: () => resolve(),
        },
      );
    });
    await eventsUntil(t, ownId, (e) => e.type === "step.waiting_callback");
    await t.gql(`mutation { cancelWorkflow(id: "${ownId}", reason: "isolation test") { id } }`, {}, t.admin);
    await done;
    const errors = events.flatMap((e) => (e as { errors?: unknown[] }).errors ?? []);
    return errors.length > 0 ? { errors: errors as never, data: events } : { data: events };
  }


  it("refuses a deprovisioned tenant's token on every operation, HTTP and graphql-ws, and the REST routes", async () => {
    // A socket opened while the tenant was active, to see it refused after the deprovision.
    const early = t.wsClient({ authorization: `Bearer ${tokenC}` }, { lazy: false });
    await new Promise<void>((resolve) => early.on("connected", () => resolve()));
    const deprovisioned = await t.gql(DeprovisionTenantDocument, { slug: slugC }, t.admin);
    expect(deprovisioned.data?.deprovisionTenant.provisioningState).toBe("DEPROVISIONED");

    const accepted: string[] = [];
    let cases = 0;
    for (const root of roots) {
      const { query, variables } = documentFor(root);
      cases++;
      const http = await t.gql(query, variables, { token: tokenC });
      toA.push(JSON.stringify(http));
      if (http.status !== 401 || http.errors?.[0]?.extensions?.code !== "UNAUTHENTICATED") accepted.push(`HTTP ${root.key}: ${http.status} ${JSON.stringify(http).slice(0, 200)}`);
      cases++;
      const overWs = await firstOf(early, query, variables);
      toA.push(JSON.stringify(overWs));
      const wsCode = overWs.errors?.[0]?.extensions?.code;
      if (wsCode !== "UNAUTHENTICATED" && wsCode !== "transport: 4403") accepted.push(`open socket ${root.key}: ${JSON.stringify(overWs).slice(0, 200)}`);
    }
    cases++;
    const fresh = await closeCodeFor(t.wsUrl, { authorization: `Bearer ${tokenC}` });
    if (fresh.code !== 4403) accepted.push(`new socket: ${fresh.code} ${fresh.reason}`);
    const rest: [string, string, string | undefined][] = [
      ["GET", `/v1/admin/tenants/${slugC}/status`, undefined],
      ["POST", "/v1/admin/tenants", JSON.stringify({ slug: "via-deprovisioned", name: "x" })],
    ];
    for (const [method, path, body] of rest) {
      cases++;
      const res = await fetch(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${tokenC}`, "content-type": "application/json" }, body });
      const text = await res.text();
      toA.push(text);
      if (res.status !== 401) accepted.push(`REST ${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    }
    figures.push({ figure: "deprovisioned-token cases (HTTP, open and new graphql-ws, REST)", value: cases }, { figure: "deprovisioned-token requests accepted", value: accepted.length, target: "0", ok: accepted.length === 0 });
    expect(accepted).toEqual([]);
  });

  it("leaks none of the secrets to the tenants' answers or the log", () => {
    const leaks = scanForSecrets("isolation", [...toA, ...t.logs]);
    figures.push({ figure: "secrets leaked to the tenants' answers or the log", value: leaks.length, target: "0", ok: leaks.length === 0 });
    recordReliability("isolation", "npm run fuzz", figures);
    expect(leaks).toEqual([]);
    expect(bSecrets.length).toBe(2);
  });
});
