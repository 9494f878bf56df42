/**
 * Configuration: the environment is read once, here, validated, and turned into a typed object.
 * A bad value throws a {@link ConfigError} naming the variable; `main` prints that one line and
 * exits 1. Secrets that are missing (JWT secret, admin key, master key) are generated into the
 * data directory on first start (see `src/db/secrets.ts`), never silently defaulted.
 */
import path from "node:path";
import fs from "node:fs";

export const ROLES = ["api", "scheduler", "worker", "runner"] as const;
export type Role = (typeof ROLES)[number];
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

export interface Config {
  /** PostgreSQL server URL; undefined means the embedded PGlite database under `dataDir`. */
  databaseUrl: string | undefined;
  port: number;
  host: string;
  roles: ReadonlySet<Role>;
  dataDir: string;
  /**
   * Base URL that external services use to reach this process (callbacks, webhook URL). When
   * GANTRY_PUBLIC_URL is unset it is the listening address, filled in once the server listens.
   */
  publicUrl: string;
  publicUrlExplicit: boolean;
  jwtSecret: string | undefined;
  jwksUrl: string | undefined;
  adminApiKeys: string[];
  /** 32-byte AES-256-GCM key for secrets at rest. */
  masterKey: Buffer | undefined;
  servicesFile: string | undefined;
  icebergCatalogUrl: string | undefined;
  /** Prefix of every tenant's lakehouse namespace: `<prefix>_tenant_<slug>`. */
  namespacePrefix: string;
  /** Directory of the tenant schema's SQL migrations; undefined = the bundled `src/tenants/sql`. */
  tenantMigrationsDir: string | undefined;
  logLevel: LogLevel;
  /** Worker role: step executions at once (GANTRY_WORKER_CONCURRENCY, default 16). */
  workerConcurrency: number;
  /** Worker role: steps leased ahead of free execution slots (GANTRY_WORKER_PREFETCH, default 0). */
  workerPrefetch: number;
  /** Worker role: step lease length in ms, renewed while a step runs (GANTRY_WORKER_LEASE_MS, default 30000). */
  workerLeaseMs: number;
  /** Worker role: safety poll in ms when no wake-up arrives (GANTRY_WORKER_POLL_MS, default 5000). */
  workerPollMs: number;
  /** Runner role: runs executed at once (GANTRY_RUNNER_CONCURRENCY, default 2). */
  runnerConcurrency: number;
  /** Runner role: a tap still running after this long is killed (GANTRY_RUNNER_TAP_TIMEOUT_MS, default 50 min). */
  runnerTapTimeoutMs: number;
  /** Runner role: run lease in ms, renewed while the tap runs (GANTRY_RUNNER_LEASE_MS, default 30000). */
  runnerLeaseMs: number;
  /** Operator's tap registry file (GANTRY_TAPS; see docs/RUNNER.md). */
  tapsFile: string | undefined;
  /** graphql-ws keep-alive: each socket is pinged this often and dropped without a pong (GANTRY_WS_KEEPALIVE_MS, default 30000, 0 = off). */
  wsKeepAliveMs: number;
  /** GraphiQL page and introspection: on outside production unless set. */
  graphiql: boolean;
  production: boolean;
}

type Env = Record<string, string | undefined>;

function nonEmpty(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function parseUrl(name: string, value: string, protocols: string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, `is not a valid URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must use ${protocols.map((p) => p.replace(":", "://")).join(" or ")}`);
  }
  return value;
}

function parsePort(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new ConfigError(name, `must be an integer between 0 and 65535, got "${value}"`);
  }
  return Number(value);
}

export function parseMasterKey(name: string, value: string): Buffer {
  const key = Buffer.from(value, "base64");
  if (key.length !== 32 || key.toString("base64").replace(/=+$/, "") !== value.replace(/=+$/, "")) {
    throw new ConfigError(name, "must be 32 bytes encoded in base64 (e.g. `openssl rand -base64 32`)");
  }
  return key;
}

function parseInteger(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = nonEmpty(env, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${text}"`);
  }
  return Number(text);
}

/** Reads and validates the environment. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = nonEmpty(env, "DATABASE_URL");
  if (databaseUrl) parseUrl("DATABASE_URL", databaseUrl, ["postgres:", "postgresql:"]);

  const port = parsePort("PORT", nonEmpty(env, "PORT") ?? "4000");
  const host = nonEmpty(env, "HOST") ?? "127.0.0.1";

  const rolesText = nonEmpty(env, "GANTRY_ROLES");
  const roles = new Set<Role>();
  for (const raw of (rolesText ?? ROLES.join(",")).split(",")) {
    const role = raw.trim();
    if (!role) continue;
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new ConfigError("GANTRY_ROLES", `unknown role "${role}" (expected a comma list of ${ROLES.join(", ")})`);
    }
    roles.add(role as Role);
  }
  if (roles.size === 0) throw new ConfigError("GANTRY_ROLES", "names no role");

  const dataDir = path.resolve(nonEmpty(env, "GANTRY_DATA_DIR") ?? "./data");

  const jwtSecret = nonEmpty(env, "JWT_SECRET");
  if (jwtSecret && Buffer.byteLength(jwtSecret) < 32) {
    throw new ConfigError("JWT_SECRET", "must be at least 32 bytes long for HS256");
  }
  const jwksUrl = nonEmpty(env, "JWKS_URL");
  if (jwksUrl) parseUrl("JWKS_URL", jwksUrl, ["http:", "https:"]);

  const adminKeysText = nonEmpty(env, "ADMIN_API_KEYS");
  const adminApiKeys = adminKeysText ? adminKeysText.split(",").map((k) => k.trim()).filter(Boolean) : [];
  for (const key of adminApiKeys) {
    if (key.length < 16) throw new ConfigError("ADMIN_API_KEYS", "every key must be at least 16 characters");
  }

  const masterKeyText = nonEmpty(env, "GANTRY_MASTER_KEY");
  const masterKey = masterKeyText ? parseMasterKey("GANTRY_MASTER_KEY", masterKeyText) : undefined;

  const servicesFile = nonEmpty(env, "GANTRY_SERVICES");
  if (servicesFile && !fs.existsSync(servicesFile)) {
    throw new ConfigError("GANTRY_SERVICES", `file not found: ${servicesFile}`);
  }
  const icebergCatalogUrl = nonEmpty(env, "ICEBERG_CATALOG_URL");
  if (icebergCatalogUrl) parseUrl("ICEBERG_CATALOG_URL", icebergCatalogUrl, ["http:", "https:"]);

  const namespacePrefix = nonEmpty(env, "GANTRY_NAMESPACE_PREFIX") ?? "gantry";
  if (!/^[a-z][a-z0-9_]{0,19}$/.test(namespacePrefix)) {
    throw new ConfigError("GANTRY_NAMESPACE_PREFIX", "must match ^[a-z][a-z0-9_]{0,19}$");
  }

  const tenantMigrationsText = nonEmpty(env, "GANTRY_TENANT_MIGRATIONS_DIR");
  const tenantMigrationsDir = tenantMigrationsText ? path.resolve(tenantMigrationsText) : undefined;
  if (tenantMigrationsDir && !fs.statSync(tenantMigrationsDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ConfigError("GANTRY_TENANT_MIGRATIONS_DIR", `not a directory: ${tenantMigrationsDir}`);
  }

  const logLevel = (nonEmpty(env, "LOG_LEVEL") ?? "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}`);
  }

  const workerConcurrency = parseInteger(env, "GANTRY_WORKER_CONCURRENCY", 16, 1, 1000);
  const workerPrefetch = parseInteger(env, "GANTRY_WORKER_PREFETCH", 0, 0, 1000);
  const workerLeaseMs = parseInteger(env, "GANTRY_WORKER_LEASE_MS", 30_000, 200, 3_600_000);
  const workerPollMs = parseInteger(env, "GANTRY_WORKER_POLL_MS", 5_000, 50, 600_000);
  const runnerConcurrency = parseInteger(env, "GANTRY_RUNNER_CONCURRENCY", 2, 1, 100);
  const runnerTapTimeoutMs = parseInteger(env, "GANTRY_RUNNER_TAP_TIMEOUT_MS", 50 * 60_000, 100, 7 * 24 * 3_600_000);
  const runnerLeaseMs = parseInteger(env, "GANTRY_RUNNER_LEASE_MS", 30_000, 200, 3_600_000);
  const wsKeepAliveMs = parseInteger(env, "GANTRY_WS_KEEPALIVE_MS", 30_000, 0, 600_000);
  const tapsFile = nonEmpty(env, "GANTRY_TAPS");
  if (tapsFile && !fs.existsSync(tapsFile)) throw new ConfigError("GANTRY_TAPS", `file not found: ${tapsFile}`);

  const production = env.NODE_ENV === "production";
  const graphiqlText = nonEmpty(env, "GANTRY_GRAPHIQL");
  if (graphiqlText && !["true", "false"].includes(graphiqlText)) {
    throw new ConfigError("GANTRY_GRAPHIQL", 'must be "true" or "false"');
  }
  const graphiql = graphiqlText ? graphiqlText === "true" : !production;

  const publicUrl = nonEmpty(env, "GANTRY_PUBLIC_URL") ?? `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  parseUrl("GANTRY_PUBLIC_URL", publicUrl, ["http:", "https:"]);

  return {
    databaseUrl,
    port,
    host,
    roles,
    dataDir,
    publicUrl: publicUrl.replace(/\/+$/, ""),
    publicUrlExplicit: nonEmpty(env, "GANTRY_PUBLIC_URL") !== undefined,
    jwtSecret,
    jwksUrl,
    adminApiKeys,
    masterKey,
    servicesFile,
    icebergCatalogUrl,
    namespacePrefix,
    tenantMigrationsDir,
    logLevel,
    workerConcurrency,
    workerLeaseMs,
    workerPollMs,
    workerPrefetch,
    runnerConcurrency,
    runnerTapTimeoutMs,
    runnerLeaseMs,
    tapsFile,
    wsKeepAliveMs,
    graphiql,
    production,
  };
}
