/**
 * The composition root: database (embedded or server), ORM and migrations, auth, the roles this
 * process runs, and an orderly stop (HTTP drained and sockets closed, roles stopped, database
 * closed, embedded PostgreSQL stopped last).
 */
import "reflect-metadata";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import { resolveSecrets, type SecretsOutcome } from "./secrets.js";
import { startEmbeddedDatabase, type EmbeddedDatabase } from "./db/embedded.js";
import { initOrm, migrate, type Orm } from "./db/orm.js";
import { Authenticator } from "./auth/authenticator.js";
import { TenantAccessCache } from "./tenants/access.js";
import { createMetrics } from "./http/metrics.js";
import { startHttpServer, GRAPHQL_PATH, type HttpServer } from "./http/server.js";
import { buildGantrySchema } from "../resolvers/index.js";
import type { AppServices } from "./app-services.js";
import { ROLE_STARTERS, type RunningRole } from "./roles.js";
import { RAW_ROUTES, REST_ROUTERS } from "./http/rest-routers.js";
import { EventBus } from "./events/index.js";
import { loadServiceCatalogue } from "./services/catalogue.js";
import { registerServiceWorkflows } from "./services/provisioning.js";
import { bindTenantPipeline } from "./tenants/workflow.js";

export interface Gantry {
  services: AppServices;
  http: HttpServer | undefined;
  /** Human description of the database in use, with no password. */
  database: string;
  secrets: SecretsOutcome;
  stop(): Promise<void>;
}

export function describeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/** Opens the database named by config (starting the embedded one when none is), migrated. */
export async function openDatabase(
  config: Config,
  log: Logger,
): Promise<{ orm: Orm; embedded: EmbeddedDatabase | undefined; database: string }> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  let database: string;
  if (url) {
    database = describeDatabaseUrl(url);
  } else {
    embedded = await startEmbeddedDatabase(config.dataDir);
    url = embedded.url;
    database = `embedded PostgreSQL (PGlite) in ${config.dataDir}/pglite`;
  }
  try {
    // The embedded server multiplexes a few connections onto one backend: stay within them.
    const orm = await initOrm({ clientUrl: url, poolMax: embedded ? embedded.maxConnections - 1 : 10, log, sharedSession: embedded !== undefined });
    const applied = await migrate(orm);
    if (applied.length > 0) log.info({ applied }, "migrations applied");
    return { orm, embedded, database };
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}

export async function startGantry(config: Config, log: Logger): Promise<Gantry> {
  const serviceCatalogue = loadServiceCatalogue(config.servicesFile);
  registerServiceWorkflows(serviceCatalogue);
  const secrets = resolveSecrets(config);
  if (secrets.generated.length > 0) {
    log.warn({ generated: secrets.generated, file: secrets.file }, "generated missing secrets into the data directory");
  }
  const { orm, embedded, database } = await openDatabase(config, log);
  const tenantAccess = new TenantAccessCache(orm);
  const services: AppServices = {
    config,
    log,
    orm,
    tenantAccess,
    auth: new Authenticator(config, tenantAccess),
    metrics: createMetrics(),
    serviceCatalogue,
    // LISTEN needs a server; on the embedded database every writer is in this process.
    events: new EventBus(orm, log, { listenUrl: config.databaseUrl, pollMs: embedded ? 250 : 1000 }),
  };
  bindTenantPipeline(services);

  const roles: RunningRole[] = [];
  let http: HttpServer | undefined;
  try {
    await services.events.start();
    if (config.roles.has("api")) {
      http = await startHttpServer(services, await buildGantrySchema(), REST_ROUTERS, RAW_ROUTES);
      if (!config.publicUrlExplicit) config.publicUrl = http.url;
    }
    for (const role of ["worker", "scheduler", "runner"] as const) {
      if (!config.roles.has(role)) continue;
      const starter = ROLE_STARTERS[role];
      if (starter) roles.push(await starter(services));
      else log.debug({ role }, "role has nothing to run yet");
    }
  } catch (err) {
    await Promise.allSettled(roles.map((r) => r.stop()));
    await http?.close();
    await services.events.stop();
    await orm.close();
    await embedded?.stop();
    throw err;
  }
  log.info({ database, roles: [...config.roles], url: http ? `${http.url}${GRAPHQL_PATH}` : undefined }, "gantry started");

  let stopped: Promise<void> | undefined;
  return {
    services,
    http,
    database,
    secrets,
    stop() {
      stopped ??= (async () => {
        await http?.close();
        await Promise.allSettled(roles.map((r) => r.stop()));
        await services.events.stop();
        await orm.close(true);
        await embedded?.stop();
      })();
      return stopped;
    },
  };
}
