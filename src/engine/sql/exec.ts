/** Runs one SQL statement on the EntityManager's connection, inside its transaction if it has one. */
import type { EntityManager } from "../../db/orm.js";

interface Raw {
  raw(sql: string, bindings: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Runs `sql` (with `?` placeholders) through knex, so values travel as real query parameters.
 * (MikroORM's `execute` interpolates them into the SQL text in JavaScript, which for the
 * engine's large JSON batches costs more CPU than the statement itself.)
 */
export async function exec<R>(em: EntityManager, sql: string, params: unknown[] = []): Promise<R[]> {
  const runner = (em.getTransactionContext() ?? em.getConnection().getKnex()) as unknown as Raw;
  const result = await runner.raw(sql, params);
  return result.rows as R[];
}

/** A batch as one parameter, unpacked with `jsonb_to_recordset(?::jsonb)`. */
export function batch(rows: object[]): string {
  return JSON.stringify(rows);
}
