/**
 * A plain pg connection from the ORM's pool, for the runner's and loader's bulk statements
 * (`$n` parameters, one big json parameter per batch, explicit BEGIN/COMMIT per batch). Taken
 * from the same pool so the embedded database's connection budget holds.
 */
import { ownSessions, type Orm } from "../db/orm.js";
import type { SqlClient } from "./staging.js";

export async function withPgClient<T>(orm: Orm, fn: (client: SqlClient) => Promise<T>): Promise<T> {
  const knexClient = orm.em.getConnection().getKnex().client as {
    acquireConnection(): Promise<SqlClient>;
    releaseConnection(connection: SqlClient): Promise<void>;
  };
  const connection = await knexClient.acquireConnection();
  try {
    return await fn(connection);
  } finally {
    await knexClient.releaseConnection(connection);
  }
}

/** `n` connections at once (acquired one after another, released together). */
export async function withPgClients<T>(orm: Orm, n: number, fn: (clients: SqlClient[]) => Promise<T>): Promise<T> {
  const take = async (held: SqlClient[]): Promise<T> =>
    held.length >= n ? fn(held) : withPgClient(orm, (client) => take([...held, client]));
  return take([]);
}

interface PoolStats {
  max: number;
  numUsed(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
}

/**
 * A second connection for a bulk job (the loader's parallel pages) only when the pool can spare
 * it right away: never on the embedded database, never while anyone waits for a connection, and
 * leaving two free for everything else. So many loads at once each go on with the one connection
 * they hold instead of holding it while waiting for another (which could deadlock the pool).
 */
export async function withSpareClients<T>(orm: Orm, fn: (spare: SqlClient[]) => Promise<T>): Promise<T> {
  // The embedded database (connections sharing one backend) never gets a parallel connection.
  if (!ownSessions(orm)) return fn([]);
  const pool = (orm.em.getConnection().getKnex().client as { pool?: PoolStats }).pool;
  if (!pool || pool.numPendingAcquires() > 0 || pool.numUsed() + pool.numPendingCreates() + 2 >= pool.max) return fn([]);
  return withPgClient(orm, (client) => fn([client]));
}

/**
 * Runs a `create … if not exists` / `add column if not exists` statement (autocommit) that
 * another run may be issuing at the same moment: PostgreSQL checks "if not exists" before the
 * other creator commits, then fails on the catalogue's unique index once it has (two runs of one
 * tenant's source system staging the same stream; two loads into one destination). That error
 * means the object now exists, which is what was asked.
 */
export async function createIfMissing(db: SqlClient, sql: string): Promise<void> {
  try {
    await db.query(sql);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // unique_violation (on pg_type/pg_class/pg_namespace), duplicate_table, duplicate_schema, duplicate_column
    if (!["23505", "42P07", "42P06", "42701"].includes(code ?? "")) throw err;
  }
}
