/** Runs one SQL statement on the EntityManager's connection, inside its transaction if it has one. */
import type { EntityManager } from "../../db/orm.js";

export async function exec<R>(em: EntityManager, sql: string, params: unknown[] = []): Promise<R[]> {
  return em.getConnection().execute<R[]>(sql, params, "all", em.getTransactionContext());
}

/** A batch as one parameter, unpacked with `jsonb_to_recordset(?::jsonb)`. */
export function batch(rows: object[]): string {
  return JSON.stringify(rows);
}
