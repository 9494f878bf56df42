/**
 * The worker round's transaction, driven by hand on one pooled connection so that it costs two
 * or three round trips instead of six or seven:
 *   1. `BEGIN; <write the results>; <claim the next steps>` — one message;
 *   2. only when needed: what needs JavaScript in between (the workflow rows when a projection
 *      hook must see them, compensations);
 *   3. `<update the workflows>; <append the events>; <notify>; COMMIT` — one message, so the event
 *      lock (append.ts) is held only for the server's own work and the WAL flush, never across a
 *      network round trip.
 * A round the server can compose alone (commitRound.ts, most of them) is one message:
 * `BEGIN; <round>; COMMIT`.
 * Several statements travel in one message through PostgreSQL's simple-query protocol, which
 * takes no parameters: values are inlined as escaped literals (`escapeLiteral` of the pg driver,
 * numbers checked finite). node-postgres does not pipeline extended-protocol queries, so this is
 * the one way to fold statements into a round trip. The hot statements (marked `preparable`,
 * src/db/sql.ts) are prepared once per connection — `PREPARE` travels in the first message that
 * uses one — and sent as `EXECUTE name(<literals>)`: the server no longer parses, analyses and
 * plans them in every round (about a quarter of its time before).
 *
 * The EntityManager handed to `fn` carries a knex-compatible transaction context: `exec` (the
 * engine's and events' SQL), `em.execute`, query builders and `appendEvents` all run on this
 * connection. The unit of work is not flushed (the engine writes with SQL only; hooks must too).
 * The ORM's `afterTransactionCommit` subscribers (in-process wake-ups) run after COMMIT.
 */
import { EventType, type TransactionEventArgs } from "@mikro-orm/core";
import type { EntityManager } from "../../db/orm.js";
import { ownSessions, systemEm, type Orm } from "../../db/orm.js";
import { preparedName } from "../../db/sql.js";

interface PgConnection {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] } | { rows: unknown[] }[]>;
}
interface KnexClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
}

export type Statement = [sql: string, params: unknown[]];

/** The transaction context of a hand-driven round (see the file comment). */
export interface RoundContext {
  raw(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  /** Runs the statements in one message; the result rows of each, in order. */
  many(statements: Statement[]): Promise<unknown[][]>;
  /** Sends the statement with COMMIT, in the same message. */
  atCommit(statement: Statement): void;
  /**
   * Sends the statements, then those queued by {@link atCommit}, then COMMIT, in one message, and
   * returns the statements' result rows: the round ends here (nothing may be sent after it).
   */
  commit(statements: Statement[]): Promise<unknown[][]>;
  client: object;
}

export function roundContextOf(em: EntityManager): RoundContext | undefined {
  const ctx = em.getTransactionContext<Partial<RoundContext>>();
  return ctx && typeof ctx.atCommit === "function" ? (ctx as RoundContext) : undefined;
}

/**
 * pg's `escapeLiteral`, with the same output, by two native replaces instead of a loop that
 * appends one character at a time (the batches' JSON made that loop a visible part of a worker's
 * CPU): quotes doubled, and backslashes doubled in an `E''` literal when there are any.
 */
export function escapeLiteral(value: string): string {
  const quoted = value.replace(/'/g, "''");
  return value.includes("\\") ? ` E'${quoted.replace(/\\/g, "\\\\")}'` : `'${quoted}'`;
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return escapeLiteral(value);
  if (value instanceof Date) return escapeLiteral(value.toISOString());
  throw new Error(`cannot inline a parameter of type ${typeof value}`);
}

function inline([sql, params]: Statement): string {
  let i = 0;
  const text = sql.replace(/\?/g, () => literal(params[i++]));
  if (i !== params.length) throw new Error(`statement has ${i} placeholders for ${params.length} parameters`);
  return text;
}

/**
 * Names of the statements prepared on a connection (see `preparable`, src/db/sql.ts), kept on the
 * connection object itself under a registered symbol, so every copy of this module in a process
 * (the tests load the sources and the compiled files) sees the same set.
 */
const PREPARED = Symbol.for("gantry.preparedStatements");
const preparedOn = {
  get: (connection: object): Set<string> | undefined => (connection as { [PREPARED]?: Set<string> })[PREPARED],
  set: (connection: object, names: Set<string>) => void ((connection as { [PREPARED]?: Set<string> })[PREPARED] = names),
  delete: (connection: object) => void delete (connection as { [PREPARED]?: Set<string> })[PREPARED],
};

/**
 * The texts that run `statement` in a simple-query message: `EXECUTE` of its prepared statement
 * when its text is marked `preparable` (preceded by the `PREPARE` the first time on a connection),
 * else the statement with its values inlined. The statement's own result is the last text's.
 */
function texts(statement: Statement, prepared: Set<string> | undefined, preparing: Set<string>): string[] {
  const [sql, params] = statement;
  const name = prepared && params.length > 0 ? preparedName(sql) : undefined;
  if (!name) return [inline(statement)];
  const out: string[] = [];
  if (!prepared!.has(name) && !preparing.has(name)) {
    let n = 0;
    // Parameter types are inferred from the text (casts, context), as for an unnamed statement.
    out.push(`prepare ${name} as ${sql.replace(/\?/g, () => `$${++n}`)}`);
    if (n !== params.length) throw new Error(`statement has ${n} placeholders for ${params.length} parameters`);
    preparing.add(name);
  }
  out.push(`execute ${name}(${params.map(literal).join(", ")})`);
  return out;
}

const inlinable = (v: unknown) => v === null || v === undefined || v instanceof Date || ["number", "boolean", "string"].includes(typeof v);

const rowsOf = (result: { rows: unknown[] } | { rows: unknown[] }[]) => (Array.isArray(result) ? result : [result]);

/** Runs `fn` in a hand-driven transaction (see the file comment) and commits. */
export async function inRound<T>(orm: Orm, fn: (tem: EntityManager) => Promise<T>): Promise<T> {
  const em = systemEm(orm);
  const client = em.getConnection().getKnex().client as unknown as KnexClient;
  const connection = await client.acquireConnection();
  const sessions = ownSessions(orm);
  let begun = false;
  let failed = false;
  /** A message with prepared statements failed: which of them exist is unknown. */
  let unsure = false;
  let committed = false;
  const tail: Statement[] = [];
  const send = async (statements: Statement[]): Promise<unknown[][]> => {
    if (committed) throw new Error("the round has committed: nothing more can be sent in it");
    // Not where connections share a session (the embedded database): a statement one prepared
    // would exist for all of them, unknown to the others.
    const prepared = sessions ? (preparedOn.get(connection) ?? new Set<string>()) : undefined;
    const preparing = new Set<string>();
    const message: string[] = begun ? [] : ["begin"];
    const resultAt: number[] = [];
    for (const statement of statements) {
      message.push(...texts(statement, prepared, preparing));
      resultAt.push(message.length - 1);
    }
    begun = true;
    try {
      const results = rowsOf(await connection.query(message.join(";\n")));
      if (prepared && preparing.size > 0) {
        for (const name of preparing) prepared.add(name);
        preparedOn.set(connection, prepared);
      }
      return resultAt.map((i) => results[i]!.rows);
    } catch (err) {
      failed = true;
      // Which statements exist after a failed message that prepared or executed some is not
      // worth guessing (PREPARE is not transactional): start again from none.
      if (message.some((text) => text.startsWith("prepare ") || text.startsWith("execute "))) unsure = true;
      throw err;
    }
  };
  const ctx: RoundContext = {
    raw: async (sql, params = []) => {
      if (params.every(inlinable)) return { rows: (await send([[sql, params]]))[0]! };
      // Arrays and objects travel as real parameters (extended protocol: one statement a message).
      if (!begun) await send([]);
      let n = 0;
      try {
        return rowsOf(await connection.query(sql.replace(/\?/g, () => `$${++n}`), params))[0]!;
      } catch (err) {
        failed = true;
        throw err;
      }
    },
    many: async (statements) => {
      if (statements.every(([, params]) => params.every(inlinable))) return send(statements);
      const out: unknown[][] = [];
      for (const [sql, params] of statements) out.push((await ctx.raw(sql, params)).rows);
      return out;
    },
    atCommit: (statement) => void tail.push(statement),
    commit: async (statements) => {
      const all = [...statements, ...tail.splice(0)];
      if (!all.every(([, params]) => params.every(inlinable))) throw new Error("a round's last message takes inlinable values only");
      const results = await send([...all, ["commit", []]]);
      committed = true;
      return results.slice(0, statements.length);
    },
    // For knex (em.execute, query builders): the same connection, already in the transaction.
    client: Object.assign(Object.create(client) as object, {
      transacting: true,
      acquireConnection: async () => {
        if (!begun) await send([]);
        return connection;
      },
      releaseConnection: async () => undefined,
    }),
  };
  em.setTransactionContext(ctx as never);
  let result: T;
  try {
    result = await fn(em);
    if (failed) throw new Error("a statement of the round failed");
    if (committed) {
      // committed by `commit`, with its last statements
    } else if (!begun && tail.length === 0) {
      // nothing was sent: nothing to commit
    } else if (tail.every(([, params]) => params.every(inlinable))) {
      await send([...tail, ["commit", []]]);
    } else {
      for (const [sql, params] of tail) await ctx.raw(sql, params);
      await send([["commit", []]]);
    }
  } catch (err) {
    if (unsure) preparedOn.delete(connection);
    // PREPARE is not transactional: after a failed message that prepared, start again from none.
    if (begun) await connection.query(unsure ? "rollback; deallocate all" : "rollback").catch(() => undefined);
    throw err;
  } finally {
    em.resetTransactionContext();
    await client.releaseConnection(connection);
  }
  // Committed: in-process wake-ups (the ORM's subscribers, as after `em.transactional`).
  await orm.em.getEventManager().dispatchEvent(EventType.afterTransactionCommit, { em, transaction: ctx } as unknown as TransactionEventArgs);
  return result;
}
