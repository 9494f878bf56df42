import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { DeprovisionTenantDocument } from "../../schema/generated/operations.js";
import { closeCodeFor, startTestGantry, type TestGantry } from "../helpers/server.js";

function firstResult(client: ReturnType<TestGantry["wsClient"]>, query: string) {
  return new Promise<{ data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] }>(
    (resolve, reject) => {
      let result: unknown;
      client.subscribe({ query }, {
        next: (value) => (result = value),
        error: (err) => (Array.isArray(err) ? resolve({ errors: err }) : reject(err)),
        complete: () => resolve(result as never),
      });
    },
  );
}

describe("graphql-ws", () => {
  let t: TestGantry;
  let tenantId: string;

  beforeAll(async () => {
    t = await startTestGantry();
    tenantId = randomUUID();
    await t.db.query(`insert into tenant (id, slug, name) values ($1, 'acme', 'Acme')`, [tenantId]);
  });
  afterAll(() => t.stop());

  it("closes with 4401 when connection_init carries no credentials", async () => {
    expect((await closeCodeFor(t.wsUrl, undefined)).code).toBe(4401);
    expect((await closeCodeFor(t.wsUrl, {})).code).toBe(4401);
  });

  it("closes with 4403 for bad credentials", async () => {
    expect((await closeCodeFor(t.wsUrl, { "x-api-key": "wrong-key-wrong-key" })).code).toBe(4403);
    expect((await closeCodeFor(t.wsUrl, { authorization: "Bearer not.a.jwt" })).code).toBe(4403);
  });

  it("acknowledges an admin key and a tenant token, and runs operations with the viewer", async () => {
    expect((await closeCodeFor(t.wsUrl, { "x-api-key": t.adminKey })).code).toBe(0);
    const admin = t.wsClient({ "x-api-key": t.adminKey });
    expect(await firstResult(admin, "{ viewer { kind } }")).toEqual({ data: { viewer: { kind: "ADMIN" } } });
    const tenant = t.wsClient({ authorization: `Bearer ${await t.tokenFor(tenantId)}` });
    expect(await firstResult(tenant, "{ viewer { kind tenant { slug } } }")).toEqual({
      data: { viewer: { kind: "TENANT", tenant: { slug: "acme" } } },
    });
    const forbidden = await firstResult(tenant, "{ tenants { nodes { id } } }");
    expect(forbidden.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });

  it("refuses invalid documents with BAD_USER_INPUT", async () => {
    const client = t.wsClient({ "x-api-key": t.adminKey });
    const invalid = await firstResult(client, "{ nope }");
    expect(invalid.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("answers a repeated document the same way every time, valid or not (documents are cached by text)", async () => {
    const admin = t.wsClient({ "x-api-key": t.adminKey });
    const tenant = t.wsClient({ authorization: `Bearer ${await t.tokenFor(tenantId)}` });
    for (let i = 0; i < 3; i++) {
      expect(await firstResult(admin, "{ viewer { kind } }")).toEqual({ data: { viewer: { kind: "ADMIN" } } });
      // The same text under another viewer is authorised as that viewer, not served from the first.
      expect(await firstResult(tenant, "{ viewer { kind } }")).toEqual({ data: { viewer: { kind: "TENANT" } } });
      const invalid = await firstResult(admin, "{ nope }");
      expect(invalid.errors).toHaveLength(1);
      expect(invalid.errors?.[0]).toMatchObject({ message: expect.stringContaining("nope"), extensions: { code: "BAD_USER_INPUT" } });
      const syntax = await firstResult(admin, "{ viewer { ");
      expect(syntax.errors?.[0]).toMatchObject({ message: expect.stringContaining("Syntax Error"), extensions: { code: "BAD_USER_INPUT" } });
    }
  });
});

/** A raw socket, acknowledged, running `subscription { workflowChanged { sequence } }` as id "live". */
async function subscribedSocket(wsUrl: string, payload: Record<string, unknown>): Promise<WebSocket> {
  const socket = new WebSocket(wsUrl, "graphql-transport-ws");
  await once(socket, "open");
  socket.send(JSON.stringify({ type: "connection_init", payload }));
  const [ack] = await once(socket, "message");
  expect(JSON.parse(String(ack))).toEqual({ type: "connection_ack" });
  socket.send(JSON.stringify({ type: "subscribe", id: "live", payload: { query: "subscription { workflowChanged { sequence } }" } }));
  return socket;
}

/** Runs `{ viewer { kind } }` on an open socket and returns its result. */
async function viewerOver(socket: WebSocket): Promise<unknown> {
  socket.send(JSON.stringify({ type: "subscribe", id: "viewer", payload: { query: "{ viewer { kind } }" } }));
  for (;;) {
    const message = JSON.parse(String((await once(socket, "message"))[0])) as { id?: string; type: string; payload?: unknown };
    if (message.id === "viewer" && message.type === "next") return message.payload;
  }
}

describe("graphql-ws connections whose credentials lapse while open", () => {
  let t: TestGantry;
  beforeAll(async () => {
    t = await startTestGantry();
  });
  afterAll(() => t.stop());

  async function tenant(slug: string): Promise<string> {
    const id = randomUUID();
    await t.db.query(`insert into tenant (id, slug, name, provisioning_state) values ($1, $2, $2, 'ACTIVE')`, [id, slug]);
    return id;
  }

  it("closes a socket with 4401 at its token's expiry, with a subscription running", async () => {
    // Three seconds: on a loaded machine the subscribe must still come before `exp` (one-second resolution).
    const token = await t.tokenFor(await tenant("lapsing"), 3);
    const socket = await subscribedSocket(t.wsUrl, { authorization: `Bearer ${token}` });
    const [code, reason] = await once(socket, "close");
    expect([code, String(reason)]).toEqual([4401, "Unauthorized: token expired"]);
    expect(Date.now() / 1000).toBeGreaterThanOrEqual(JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).exp);
    // And the token opens no new connection.
    expect((await closeCodeFor(t.wsUrl, { authorization: `Bearer ${token}` })).code).toBe(4403);
  });

  it("closes a deprovisioned tenant's sockets with 4403 on every api process, and no other tenant's", async () => {
    const leaving = await tenant("ws-leaving");
    const staying = await tenant("ws-staying");
    // A second api process on the same database: the deprovision reaches it through the event bus.
    const other = await startTestGantry({ db: t.db });
    try {
      const here = await subscribedSocket(t.wsUrl, { authorization: `Bearer ${await t.tokenFor(leaving)}` });
      const there = await subscribedSocket(other.wsUrl, { authorization: `Bearer ${await other.tokenFor(leaving)}` });
      const bystander = await subscribedSocket(t.wsUrl, { authorization: `Bearer ${await t.tokenFor(staying)}` });
      const admin = await subscribedSocket(t.wsUrl, { "x-api-key": t.adminKey });
      const closes = [here, there].map((socket) => once(socket, "close"));

      const res = await t.gql(DeprovisionTenantDocument, { slug: "ws-leaving" }, t.admin);
      expect(res.data?.deprovisionTenant.provisioningState).toBe("DEPROVISIONED");
      for (const [code, reason] of await Promise.all(closes)) expect([code, String(reason)]).toEqual([4403, "Forbidden: tenant deprovisioned"]);

      expect(await viewerOver(bystander)).toEqual({ data: { viewer: { kind: "TENANT" } } });
      expect(await viewerOver(admin)).toEqual({ data: { viewer: { kind: "ADMIN" } } });
      bystander.close();
      admin.close();
    } finally {
      await other.stop();
    }
  });
});

describe("graphql-ws keep-alive", () => {
  let t: TestGantry;
  beforeAll(async () => {
    t = await startTestGantry({ env: { GANTRY_WS_KEEPALIVE_MS: "250" } });
  });
  afterAll(() => t.stop());

  async function acknowledged(autoPong: boolean): Promise<WebSocket> {
    const socket = new WebSocket(t.wsUrl, "graphql-transport-ws", { autoPong });
    await once(socket, "open");
    socket.send(JSON.stringify({ type: "connection_init", payload: { "x-api-key": t.adminKey } }));
    const [ack] = await once(socket, "message");
    expect(JSON.parse(String(ack))).toEqual({ type: "connection_ack" });
    return socket;
  }

  it("pings sockets and keeps those that answer", async () => {
    const socket = await acknowledged(true);
    for (let i = 0; i < 3; i++) await once(socket, "ping");
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it("drops a socket that stops answering pings", async () => {
    const socket = await acknowledged(false);
    await once(socket, "ping");
    const [code] = await once(socket, "close");
    // Terminated (no close frame): the peer sees an abnormal closure.
    expect(code).toBe(1006);
  });
});
