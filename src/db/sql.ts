/**
 * Runs SQL on the EntityManager's connection: inside its transaction when it has one; otherwise
 * straight on a pooled driver connection. The second path skips the query builder's per-query
 * work (the connectors list is the hot read), and takes the same pool, so it follows the same
 * limits. Statements use `?` placeholders (no literal `?` inside them).
 */
import { createHash } from "node:crypto";
import type { EntityManager } from "./orm.js";

interface PgConnection {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}
interface KnexClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
}

const numbered = new Map<string, string>();

function toNumbered(sql: string): string {
  let text = numbered.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    if (numbered.size > 1000) numbered.clear();
    numbered.set(sql, text);
  }
  return text;
}

export async function exec<R = Record<string, unknown>>(em: EntityManager, sql: string, params: unknown[] = []): Promise<R[]> {
  const trx = em.getTransactionContext<{ raw(sql: string, bindings: unknown[]): Promise<{ rows: unknown[] }> }>();
  // knex raw on the transaction: values travel as real parameters (MikroORM's `execute` would
  // interpolate them into the text in JavaScript, costly for the batches' JSON).
  if (trx) return (await trx.raw(sql, params)).rows as R[];
  const client = em.getConnection().getKnex().client as unknown as KnexClient;
  const connection = await client.acquireConnection();
  try {
    return (await connection.query(toNumbered(sql), params)).rows as R[];
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Statements worth preparing once per connection: the hot, fixed texts of the hand-driven
 * transactions (src/engine/sql/round.ts), which send them as `EXECUTE` so the server parses,
 * analyses and plans them once per connection instead of in every message. Elsewhere the mark
 * changes nothing. Only for constant texts (each one costs a prepared statement per connection).
 */
const PREPARABLE = new Map<string, string>();

/**
 * Named after a hash of the text, not a counter: two copies of this module in one process (the
 * tests load both the sources and the compiled files) must agree on every name.
 */
export function preparable(sql: string): string {
  if (!PREPARABLE.has(sql)) PREPARABLE.set(sql, `gantry_${createHash("sha256").update(sql).digest("hex").slice(0, 16)}`);
  return sql;
}

/** The prepared statement's name for a text marked {@link preparable}, or undefined. */
export function preparedName(sql: string): string | undefined {
  return PREPARABLE.get(sql);
}

/** A batch as one parameter, unpacked with `jsonb_to_recordset(?::jsonb)`. */
export function batch(rows: object[]): string {
  return JSON.stringify(rows);
}
