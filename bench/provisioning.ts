/**
 * Tenant provisioning figures (issue 4): time from `createTenant` to ACTIVE for one tenant (the
 * nine steps on the engine's worker, observed through the `tenantProvisioningChanged`
 * subscription), on PostgreSQL and on the embedded database; and 50 tenants created at once —
 * all must reach ACTIVE — as tenants per minute. Gantry runs as its own process (`npm start`'s
 * program, all roles), driven over HTTP and graphql-ws like any client.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { freshDatabase, quick, startChild, table, type Child } from "./lib.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.resolve(here, "../src/main.js");
const READY = /GraphQL \(HTTP \+ graphql-ws\): (http:\/\/\S+)/;
const CREATE = `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id provisioningState } }`;
const WATCH = `subscription ($slug: String!) { tenantProvisioningChanged(slug: $slug) { type workflowStatus tenant { provisioningState lastError } } }`;

interface Server {
  child: Child;
  url: string;
  adminKey: string;
  ws: Client;
  stop(): Promise<void>;
}

async function startServer(database: "postgres" | "embedded"): Promise<Server> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-bench-prov-"));
  const db = database === "postgres" ? await freshDatabase("prov") : undefined;
  const adminKey = `bench-admin-${randomBytes(12).toString("hex")}`;
  const child = await startChild(MAIN, {
    DATABASE_URL: db?.url ?? "",
    PORT: "0",
    LOG_LEVEL: "warn",
    GANTRY_DATA_DIR: dataDir,
    ADMIN_API_KEYS: adminKey,
    JWT_SECRET: randomBytes(32).toString("hex"),
    GANTRY_MASTER_KEY: randomBytes(32).toString("base64"),
  }, READY);
  const url = child.match[1]!;
  const ws = createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, connectionParams: { "x-api-key": adminKey }, lazy: true });
  return {
    child,
    url,
    adminKey,
    ws,
    async stop() {
      await ws.dispose();
      await child.stop();
      await db?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Resolves when the tenant's pipeline settles; rejects unless it is ACTIVE. */
async function untilActive(server: Server, slug: string): Promise<void> {
  for await (const result of server.ws.iterate<{
    tenantProvisioningChanged: { type: string; workflowStatus: string | null; tenant: { provisioningState: string; lastError: string | null } };
  }>({ query: WATCH, variables: { slug } })) {
    if (result.errors?.length) throw new Error(result.errors[0]!.message);
    const e = result.data!.tenantProvisioningChanged;
    if (e.tenant.provisioningState === "ACTIVE" && (e.type === "tenant.snapshot" || e.workflowStatus === "COMPLETED")) return;
    if (e.tenant.provisioningState === "FAILED" && e.workflowStatus === "FAILED") throw new Error(`${slug} failed: ${e.tenant.lastError}`);
  }
  throw new Error(`subscription for ${slug} ended`);
}

async function createTenant(server: Server, slug: string): Promise<void> {
  const res = await fetch(`${server.url}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": server.adminKey },
    body: JSON.stringify({ query: CREATE, variables: { input: { slug, name: slug } } }),
  });
  const body = (await res.json()) as { errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`createTenant ${slug}: ${body.errors[0]!.message}`);
}

async function provisionOne(server: Server, slug: string): Promise<number> {
  const started = performance.now();
  await createTenant(server, slug);
  await untilActive(server, slug);
  return performance.now() - started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function scenario(database: "postgres" | "embedded", singles: number, batch: number) {
  const server = await startServer(database);
  try {
    await provisionOne(server, `warm-up-${database}`);
    const times: number[] = [];
    for (let i = 0; i < singles; i++) times.push(await provisionOne(server, `single-${i}`));
    const started = performance.now();
    await Promise.all(Array.from({ length: batch }, (_, i) => provisionOne(server, `batch-${i}`)));
    const batchMs = performance.now() - started;
    return { oneMs: median(times), minMs: Math.min(...times), batchMs, perMinute: (batch / batchMs) * 60_000 };
  } finally {
    await server.stop();
  }
}

export async function run(): Promise<{ rows: Record<string, string | number>[]; figures: Record<string, number>; notes: string[] }> {
  const singles = quick() ? 1 : 5;
  const batch = quick() ? 3 : 50;
  const pg = await scenario("postgres", singles, batch);
  // --quick proves the pipeline on PostgreSQL only: the embedded database's start dominates a quick run.
  const embedded = quick() ? { oneMs: NaN, minMs: NaN, batchMs: NaN, perMinute: NaN } : await scenario("embedded", singles, batch);
  const rows = [
    { measure: "createTenant → ACTIVE, one tenant, median (ms)", postgres: pg.oneMs.toFixed(0), embedded: embedded.oneMs.toFixed(0) },
    { measure: "createTenant → ACTIVE, one tenant, best (ms)", postgres: pg.minMs.toFixed(0), embedded: embedded.minMs.toFixed(0) },
    { measure: `${batch} tenants at once, all ACTIVE (s)`, postgres: (pg.batchMs / 1000).toFixed(1), embedded: (embedded.batchMs / 1000).toFixed(1) },
    { measure: `${batch} tenants at once: tenants per minute`, postgres: pg.perMinute.toFixed(0), embedded: embedded.perMinute.toFixed(0) },
  ];
  return {
    rows,
    figures: {
      postgresOneTenantMs: pg.oneMs,
      embeddedOneTenantMs: embedded.oneMs,
      postgresBatchMs: pg.batchMs,
      embeddedBatchMs: embedded.batchMs,
      postgresTenantsPerMinute: pg.perMinute,
      embeddedTenantsPerMinute: embedded.perMinute,
    },
    notes: [
      "Each tenant: 9 action steps (3 schemas, 2 migrations, catalog row, API key, settings) with the default worker (16 concurrent steps).",
      `One-tenant figures are the median of ${singles} sequential creates after a warm-up; all on one shared machine.`,
    ],
  };
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const { rows } = await run();
  process.stdout.write(table(rows) + "\n");
}
