import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TenantStatusDocument, TenantsDocument, ViewerDocument } from "../../schema/generated/operations.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";

describe("GraphQL over HTTP", () => {
  let t: TestGantry;
  let tenantId: string;

  beforeAll(async () => {
    t = await startTestGantry();
    tenantId = randomUUID();
    await t.db.query(`insert into tenant (id, slug, name) values ($1, 'acme', 'Acme'), ($2, 'globex', 'Globex')`, [
      tenantId,
      randomUUID(),
    ]);
  });
  afterAll(() => t.stop());

  it("answers { __typename } with no credentials", async () => {
    const res = await t.gql("{ __typename }");
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ __typename: "Query" });
  });

  it("answers UNAUTHENTICATED without credentials and for a bad key or token", async () => {
    const anonymous = await t.gql(TenantsDocument, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const badKey = await t.gql(ViewerDocument, {}, { apiKey: "not-a-real-admin-key" });
    expect(badKey.status).toBe(401);
    expect(badKey.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const badToken = await t.gql(ViewerDocument, {}, { token: "eyJhbGciOiJIUzI1NiJ9.e30.bad" });
    expect(badToken.status).toBe(401);
  });

  it("answers FORBIDDEN for a tenant token on an admin query", async () => {
    const token = await t.tokenFor(tenantId);
    const res = await t.gql(TenantsDocument, {}, { token });
    expect(res.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const viewer = await t.gql(ViewerDocument, {}, { token });
    expect(viewer.data?.viewer).toMatchObject({ kind: "TENANT", tenant: { id: tenantId, slug: "acme" } });
  });

  it("refuses a token of a tenant that does not exist", async () => {
    const res = await t.gql(ViewerDocument, {}, { token: await t.tokenFor(randomUUID()) });
    expect(res.status).toBe(401);
  });

  it("pages tenants with cursors and reads a status", async () => {
    const first = await t.gql(TenantsDocument, { first: 1 }, t.admin);
    expect(first.data?.tenants.edges).toHaveLength(1);
    expect(first.data?.tenants.pageInfo.hasNextPage).toBe(true);
    const second = await t.gql(TenantsDocument, { first: 1, after: first.data!.tenants.pageInfo.endCursor }, t.admin);
    expect(second.data?.tenants.pageInfo.hasNextPage).toBe(false);
    const slugs = [first, second].map((r) => r.data!.tenants.edges[0]!.node.slug).sort();
    expect(slugs).toEqual(["acme", "globex"]);

    const status = await t.gql(TenantStatusDocument, { slug: "acme" }, t.admin);
    expect(status.data?.tenantStatus).toMatchObject({ tenantId, slug: "acme", provisioningState: "PROVISIONING" });
  });

  it("answers NOT_FOUND for an unknown slug and BAD_USER_INPUT naming the rule for a bad one", async () => {
    const missing = await t.gql(TenantStatusDocument, { slug: "nobody" }, t.admin);
    expect(missing.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const bad = await t.gql(TenantStatusDocument, { slug: 'a"; drop schema public; --' }, t.admin);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "slug" });
    expect(bad.errors?.[0]?.message).toContain("^[a-z][a-z0-9-]*[a-z0-9]$");
    const badCursor = await t.gql(TenantsDocument, { after: "garbage" }, t.admin);
    expect(badCursor.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "after" });
  });

  it("answers malformed JSON with 400 and a clear message, no stack trace", async () => {
    const res = await fetch(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query": ' });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toContain("Malformed JSON body");
    expect(text).not.toMatch(/at .*\.(js|ts):\d+/);
  });

  it("answers a syntax error with 400, not 500 (fuzz regression: armor's token plugin made it 500)", async () => {
    for (const query of ["query {", "{ " + "a ".repeat(3000) + "}"]) {
      const res = await fetch(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe("BAD_USER_INPUT");
    }
  });

  it("answers an oversized body with 413", async () => {
    const body = JSON.stringify({ query: "{ __typename }", variables: { pad: "x".repeat(2 * 1024 * 1024) } });
    const res = await fetch(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(413);
  });

  it("serves GET for queries only and prevents CSRF", async () => {
    const query = encodeURIComponent("{ __typename }");
    const simple = await fetch(`${t.graphqlUrl}?query=${query}`);
    expect(simple.status).toBe(400); // a "simple" GET could be a CSRF attempt
    const ok = await fetch(`${t.graphqlUrl}?query=${query}`, { headers: { "apollo-require-preflight": "1" } });
    expect(await ok.json()).toEqual({ data: { __typename: "Query" } });
    const mutation = encodeURIComponent("mutation { __typename }");
    const refused = await fetch(`${t.graphqlUrl}?query=${mutation}`, { headers: { "apollo-require-preflight": "1" } });
    expect(refused.status).toBe(405);
  });

  it("uses application/graphql-response+json when asked, with 4xx for invalid documents", async () => {
    const res = await fetch(t.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
      body: JSON.stringify({ query: "{ nope }" }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/graphql-response+json");
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe("BAD_USER_INPUT");
  });

  // Depth and cost limits come from the same graphql-armor set-up (ARMOR_CONFIG); the schema is
  // still too shallow to exceed depth 10 outside introspection, which armor leaves alone.
  it("refuses too many aliases with a clear error", async () => {
    const aliases = `{ ${Array.from({ length: 25 }, (_, i) => `a${i}: viewer { kind }`).join(" ")} }`;
    const tooMany = await t.gql(aliases, undefined, t.admin);
    expect(tooMany.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(tooMany.errors?.[0]?.message).toMatch(/alias/i);
  });

  it("exposes health, readiness and metrics", async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.url}/readyz`);
    expect(await ready.json()).toEqual({ status: "ready" });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toContain("gantry_http_request_duration_seconds");
    expect(metrics).toContain("gantry_websocket_connections");
  });

  it("is not ready while its event stream's connection is down, and ready again once it is back", async () => {
    const status = async () => (await fetch(`${t.url}/readyz`)).status;
    expect(await status()).toBe(200);
    // The database drops every other session of this database (the LISTEN one among them).
    await t.db.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`);
    const seen: number[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && !(seen.includes(503) && seen.at(-1) === 200); ) seen.push(await status());
    expect(seen).toContain(503);
    expect(seen.at(-1)).toBe(200);
    expect(await (await fetch(`${t.url}/readyz`)).json()).toEqual({ status: "ready" });
  });

  // Last: it breaks this file's database on purpose.
  it("masks an unexpected error with a request id and logs the detail", async () => {
    await t.db.query(`alter table tenant rename to tenant_gone`);
    const res = await t.gql(TenantsDocument, {}, t.admin);
    const error = res.errors?.[0];
    expect(error?.extensions?.code).toBe("INTERNAL_SERVER_ERROR");
    const requestId = error?.extensions?.requestId as string;
    expect(requestId).toMatch(/[0-9a-f-]{36}/);
    expect(error?.message).not.toMatch(/tenant|relation|select/i);
    expect(t.logs.some((line) => line.includes(requestId) && line.includes("tenant"))).toBe(true);
    await t.db.query(`alter table tenant_gone rename to tenant`);
  });
});
