/**
 * A real Gantry on a free port against a test database, with helpers to call it over HTTP and
 * graphql-ws. Logs are captured (not printed) so tests can assert on them, e.g. that no secret
 * ever reaches a log line.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { print, type ExecutionResult } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { createClient, type Client, type ClientOptions } from "graphql-ws";
import WebSocket from "ws";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log/logger.js";
import { startGantry, type Gantry } from "../../src/app.js";
import { createTestDatabase, type TestDatabase } from "./db.js";
import { scanForSecrets } from "./secrets.js";

export interface Auth {
  apiKey?: string;
  token?: string;
}

export interface TestGantry {
  gantry: Gantry;
  db: TestDatabase;
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  adminKey: string;
  jwtSecret: string;
  /** Every log line written so far (JSON text). */
  logs: string[];
  /** Every body `gql` received (JSON text), for the secret scan (test/helpers/secrets.ts). */
  responses: string[];
  admin: Auth;
  tokenFor(tenantId: string, ttlSeconds?: number): Promise<string>;
  /** POSTs an operation; returns the parsed body and HTTP status. */
  gql<R, V extends Record<string, unknown>>(
    doc: TypedDocumentNode<R, V> | string,
    variables?: V,
    auth?: Auth,
  ): Promise<ExecutionResult<R> & { status: number }>;
  /** A graphql-ws client; by default lazy (connects on first subscribe, closes after the last). */
  wsClient(connectionParams: Record<string, unknown>, options?: Partial<ClientOptions>): Client;
  stop(): Promise<void>;
}

export interface TestGantryOptions {
  env?: Record<string, string>;
  /** Reuse a database (e.g. a second server on the same database). */
  db?: TestDatabase;
}

export async function startTestGantry(options: TestGantryOptions = {}): Promise<TestGantry> {
  const db = options.db ?? (await createTestDatabase());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-test-"));
  const adminKey = `test-admin-${randomBytes(12).toString("hex")}`;
  const jwtSecret = randomBytes(32).toString("hex");
  const config = loadConfig({
    DATABASE_URL: db.url,
    PORT: "0",
    HOST: "127.0.0.1",
    GANTRY_DATA_DIR: dataDir,
    JWT_SECRET: jwtSecret,
    ADMIN_API_KEYS: adminKey,
    GANTRY_MASTER_KEY: randomBytes(32).toString("base64"),
    LOG_LEVEL: "debug",
    ...options.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const gantry = await startGantry(config, createLogger(config.logLevel, sink));
  const url = gantry.http!.url;
  const graphqlUrl = `${url}/graphql`;
  const clients: Client[] = [];
  const responses: string[] = [];

  return {
    gantry,
    db,
    url,
    graphqlUrl,
    wsUrl: graphqlUrl.replace(/^http/, "ws"),
    adminKey,
    jwtSecret,
    logs,
    responses,
    admin: { apiKey: adminKey },
    tokenFor: (tenantId, ttl) => gantry.services.auth.signTenantToken(tenantId, ttl),
    async gql(doc, variables, auth = {}) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (auth.apiKey) headers["x-api-key"] = auth.apiKey;
      if (auth.token) headers.authorization = `Bearer ${auth.token}`;
      const query = typeof doc === "string" ? doc : print(doc);
      const res = await fetch(graphqlUrl, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
      const text = await res.text();
      responses.push(text);
      return { ...(JSON.parse(text) as ExecutionResult<never>), status: res.status };
    },
    wsClient(connectionParams, clientOptions = {}) {
      const client = createClient({
        url: graphqlUrl.replace(/^http/, "ws"),
        webSocketImpl: WebSocket,
        connectionParams,
        retryAttempts: 0,
        lazy: true,
        ...clientOptions,
      });
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.allSettled(clients.map((c) => c.dispose()));
      await gantry.stop();
      // No log line of any test server may hold a secret a test noted (test/helpers/secrets.ts).
      const leaks = scanForSecrets("log", logs);
      if (!options.db) await db.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (leaks.length > 0) throw new Error(`secrets in the log: ${JSON.stringify(leaks.slice(0, 5))}`);
    },
  };
}

/** Opens a raw graphql-transport-ws socket, sends connection_init, resolves with the close code. */
export function closeCodeFor(wsUrl: string, payload: Record<string, unknown> | undefined): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, "graphql-transport-ws");
    socket.once("open", () => socket.send(JSON.stringify({ type: "connection_init", payload })));
    socket.once("message", (data) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === "connection_ack") {
        resolve({ code: 0, reason: "acknowledged" });
        socket.close();
      }
    });
    socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.once("error", reject);
  });
}
