/**
 * Chaos suites' shared parts (issue 8): the scale (short inside `npm test`, full under
 * `npm run chaos`), real Gantry processes spawned from `dist/` and killed at will, a private
 * PostgreSQL cluster that may be restarted (never the shared one on 5432), and a bounded wait.
 * Every spawned process and cluster is torn down at the end, even when a test fails.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import pg from "pg";
import { print } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";

const run = promisify(execFile);
const MAIN = path.resolve("dist/src/main.js");

/** Full scale under `npm run chaos` (GANTRY_RELIABILITY_MODE=full or CHAOS_SCALE=full). */
export const FULL = process.env.GANTRY_RELIABILITY_MODE === "full" || process.env.CHAOS_SCALE === "full";
export const scale = <T>(short: T, full: T): T => (FULL ? full : short);
export const COMMAND = FULL ? "npm run chaos" : "npm test (short form; full: npm run chaos)";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value; fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Shared secrets every replica of one deployment must agree on. */
export function deploymentSecrets(): Record<string, string> {
  return {
    JWT_SECRET: randomBytes(32).toString("hex"),
    ADMIN_API_KEYS: `chaos-admin-${randomBytes(12).toString("hex")}`,
    GANTRY_MASTER_KEY: randomBytes(32).toString("base64"),
  };
}

export function tenantToken(jwtSecret: string, tenantId: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(tenantId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(jwtSecret));
}

export interface GantryProcess {
  child: ChildProcess;
  pid: number;
  /** The api's base URL (processes with the api role). */
  url: string | undefined;
  output(): string;
  exited: Promise<number | null>;
  /** SIGKILL, resolved when the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (orderly stop), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
// A failing or interrupted run must not leave processes behind.
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Starts `node dist/src/main.js` with `env`; resolves once it printed its banner. */
export function spawnGantry(env: Record<string, string>, label = env.GANTRY_ROLES ?? "all"): Promise<GantryProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-chaos-"));
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? "", PORT: "0", HOST: "127.0.0.1", GANTRY_DATA_DIR: dataDir, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let output = "";
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      live.delete(child);
      fs.rmSync(dataDir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const proc: Omit<GantryProcess, "url"> = {
    child,
    pid: child.pid!,
    output: () => output,
    exited,
    async kill() {
      if (!gone()) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (!gone()) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      // Keep the tail only: a long chaos run must not grow memory without bound.
      output = (output + chunk.toString()).slice(-64_000);
      if (output.includes("Gantry is ready")) {
        const url = /GraphQL \(HTTP \+ graphql-ws\): (http:\/\/\S+)\/graphql/.exec(output)?.[1];
        resolve({ ...proc, url: env.GANTRY_ROLES?.includes("api") === false ? undefined : url });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then((code) => reject(new Error(`gantry (${label}) exited with ${code} before ready:\n${output}`)));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private PostgreSQL cluster in a temporary directory (initdb + pg_ctl), on its own free port,
 * loopback only, trust auth for `root`. Run as the `postgres` OS user when we are root (PostgreSQL
 * refuses to run as root). Removed by `destroy()`, and on process exit if a test died first.
 */
export interface PrivateCluster {
  port: number;
  adminUrl: string;
  url(database: string): string;
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

function pgBindir(): string {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin/initdb"))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions[0]) return path.join(root, versions[0], "bin");
  return path.dirname(execFileSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" }).trim());
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bindir = pgBindir();
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-chaos-pg-"));
  const data = path.join(dir, "data");
  if (asRoot) execFileSync("chown", ["-R", "postgres:postgres", dir]);
  const as = (cmd: string, args: string[]) => (asRoot ? run("runuser", ["-u", "postgres", "--", cmd, ...args]) : run(cmd, args));
  const pgCtl = (args: string[]) => as(path.join(bindir, "pg_ctl"), ["-D", data, "-l", path.join(dir, "log"), ...args]);
  const destroySync = () => {
    try {
      execFileSync(asRoot ? "runuser" : path.join(bindir, "pg_ctl"), asRoot ? ["-u", "postgres", "--", path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "stop"] : ["-D", data, "-m", "immediate", "stop"], { stdio: "ignore" });
    } catch {
      // Not running.
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", destroySync);
  try {
    await as(path.join(bindir, "initdb"), ["-D", data, "-U", "root", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    const port = await freePort();
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off`;
    await pgCtl(["-w", "-o", options, "start"]);
    const adminUrl = `postgresql://root@127.0.0.1:${port}/postgres`;
    return {
      port,
      adminUrl,
      url: (database) => `postgresql://root@127.0.0.1:${port}/${database}`,
      // Fast shutdown: every backend is terminated, as in `pg_ctlcluster … restart`.
      restart: async () => void (await pgCtl(["-w", "-m", "fast", "restart"])),
      destroy: async () => {
        process.removeListener("exit", destroySync);
        destroySync();
      },
    };
  } catch (err) {
    destroySync();
    throw err;
  }
}

/** POSTs a GraphQL operation to a Gantry process; throws on transport errors only. */
export async function gql<R>(
  url: string,
  doc: TypedDocumentNode<R, any> | string,
  variables: Record<string, unknown>,
  auth: { token?: string; apiKey?: string },
): Promise<{ status: number; data?: R; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.apiKey) headers["x-api-key"] = auth.apiKey;
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers,
    body: JSON.stringify({ query: typeof doc === "string" ? doc : print(doc), variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

/** A tenant with an ACTIVE lakehouse catalog, written straight into `databaseUrl`. */
export async function insertTenant(databaseUrl: string, slug: string): Promise<string> {
  const id = randomUUID();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`insert into tenant (id, slug, name, provisioning_state) values ($1, $2, $2, 'ACTIVE')`, [id, slug]);
    await client.query(`insert into lakehouse.tenant_catalogs (id, tenant_id, name, status) values ($1, $2, 'lakehouse', 'ACTIVE')`, [randomUUID(), id]);
  } finally {
    await client.end();
  }
  return id;
}

/** One short-lived query on `databaseUrl`. */
export async function query<R extends pg.QueryResultRow = Record<string, any>>(databaseUrl: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
