/**
 * MikroORM set-up. One ORM per process; request code never touches `orm.em` directly but a fork
 * scoped by the tenant filter: `tenantEm` for a tenant, `systemEm` for admin and background code.
 */
import { MikroORM, ReflectMetadataProvider, type Options } from "@mikro-orm/core";
import { PostgreSqlDriver, type EntityManager } from "@mikro-orm/postgresql";
import { Migrator } from "@mikro-orm/migrations";
import type { Logger } from "pino";
import { ALL_ENTITIES } from "../../entities/index.js";
import { TENANT_FILTER, type TenantFilterArgs } from "../../entities/common/tenant-filter.js";
import { MIGRATIONS } from "./migrations/index.js";

export type Orm = MikroORM<PostgreSqlDriver>;
export type { EntityManager };

export interface OrmOptions {
  clientUrl: string;
  /** Largest pool size; the embedded database serves only a few connections. */
  poolMax: number;
  log?: Logger;
  /**
   * The connections share one server session (the embedded database multiplexes them onto one
   * backend): no per-connection session state such as prepared statements.
   */
  sharedSession?: boolean;
}

const sharedSessions = new WeakSet<object>();

/** Whether each pooled connection is a session of its own (see {@link OrmOptions.sharedSession}). */
export function ownSessions(orm: Orm): boolean {
  return !sharedSessions.has(orm);
}

export function ormConfig(options: OrmOptions): Options<PostgreSqlDriver> {
  return {
    driver: PostgreSqlDriver,
    clientUrl: options.clientUrl,
    entities: ALL_ENTITIES,
    metadataProvider: ReflectMetadataProvider,
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    extensions: [Migrator],
    migrations: {
      migrationsList: MIGRATIONS,
      tableName: "mikro_orm_migrations",
      transactional: true,
      allOrNothing: true,
      // `session_replication_role` needs a superuser; our migrations order their DDL instead.
      disableForeignKeys: false,
      snapshot: false,
    },
    pool: { min: 0, max: options.poolMax, idleTimeoutMillis: 30_000 },
    forceUtcTimezone: true,
    allowGlobalContext: false,
    ensureDatabase: false,
    debug: false,
    logger: (message) => options.log?.debug({ orm: true }, message),
  };
}

export async function initOrm(options: OrmOptions): Promise<Orm> {
  const orm = await MikroORM.init<PostgreSqlDriver>(ormConfig(options));
  if (options.sharedSession) sharedSessions.add(orm);
  return orm;
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(orm: Orm): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}

export async function pendingMigrations(orm: Orm): Promise<string[]> {
  return (await orm.getMigrator().getPendingMigrations()).map((m) => m.name);
}

/** A fresh EntityManager that sees only `tenantId`'s rows. */
export function tenantEm(orm: Orm, tenantId: string): EntityManager {
  const em = orm.em.fork({ useContext: false });
  em.setFilterParams(TENANT_FILTER, { tenantId } satisfies TenantFilterArgs);
  return em;
}

/** A fresh EntityManager across every tenant: admin requests and background roles only. */
export function systemEm(orm: Orm): EntityManager {
  const em = orm.em.fork({ useContext: false });
  em.setFilterParams(TENANT_FILTER, { tenantId: null } satisfies TenantFilterArgs);
  return em;
}
