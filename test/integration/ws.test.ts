import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
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

  it("re-checks token expiry on each subscribe", async () => {
    // Three seconds, not one: on a loaded machine the first subscribe must still come before `exp`.
    const token = await t.tokenFor(tenantId, 3);
    const client = t.wsClient({ authorization: `Bearer ${token}` }, { lazy: false });
    expect(await firstResult(client, "{ viewer { kind } }")).toMatchObject({ data: { viewer: { kind: "TENANT" } } });
    // Waiting for the clock itself: the token's `exp` has one-second resolution.
    const exp = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).exp as number;
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now() + 50)));
    const expired = await firstResult(client, "{ viewer { kind } }");
    expect(expired.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
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
