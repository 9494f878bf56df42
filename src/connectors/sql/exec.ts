/** Runs SQL on the EntityManager's connection, inside its transaction when it has one. */
import type { EntityManager } from "../../db/orm.js";

export function exec<R = Record<string, unknown>>(em: EntityManager, sql: string, params: unknown[] = []): Promise<R[]> {
  return em.getConnection().execute<R[]>(sql, params, "all", em.getTransactionContext());
}
