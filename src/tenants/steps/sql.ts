/**
 * SQL helpers shared by the steps: a transaction on a fresh EntityManager, and schemas that carry
 * their owner. A schema created by a step is marked with `COMMENT ON SCHEMA … IS 'gantry:tenant:<id>'`
 * in the same transaction; creating finds an existing schema acceptable only when it carries the
 * same mark, and dropping only ever drops a schema with that mark.
 */
import type { EntityManager } from "../../db/orm.js";
import { systemEm } from "../../db/orm.js";
import { quoteIdent } from "../naming.js";
import { StepFailure, type StepDeps } from "./types.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function ownerMark(tenantId: string): string {
  if (!UUID.test(tenantId)) throw new StepFailure("tenant id is not a uuid");
  return `gantry:tenant:${tenantId}`;
}

/** Runs `fn` in one transaction on a fresh EntityManager (all tenants visible: system code). */
export function inTransaction<T>(deps: StepDeps, fn: (em: EntityManager) => Promise<T>): Promise<T> {
  return systemEm(deps.orm).transactional(fn);
}

/**
 * The PostgreSQL message of a failed statement, without the SQL text that knex prepends to it
 * (`<sql> - <message>`), so a stored error never carries a whole migration file.
 */
export function pgMessage(err: unknown, sql: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const prefix = `${sql} - `;
  if (message.startsWith(prefix)) return message.slice(prefix.length);
  const at = message.lastIndexOf(" - ");
  return at >= 0 ? message.slice(at + 3) : message;
}

/** Serializes DDL on one schema name across transactions and processes. */
async function lockName(em: EntityManager, name: string): Promise<void> {
  await em.execute(`select pg_advisory_xact_lock(hashtext(?))`, [`gantry:schema:${name}`]);
}

async function schemaMark(em: EntityManager, name: string): Promise<{ exists: boolean; mark: string | null }> {
  const rows = await em.execute<{ mark: string | null }[]>(
    `select obj_description(oid, 'pg_namespace') as mark from pg_namespace where nspname = ?`,
    [name],
  );
  return rows.length === 0 ? { exists: false, mark: null } : { exists: true, mark: rows[0]!.mark };
}

/** Creates `name` owned by the tenant; fine if it already exists with that owner (idempotent). */
export async function ensureOwnedSchema(em: EntityManager, name: string, tenantId: string): Promise<"created" | "existed"> {
  const ident = quoteIdent(name);
  const mark = ownerMark(tenantId);
  await lockName(em, name);
  const found = await schemaMark(em, name);
  if (found.exists) {
    if (found.mark === mark) return "existed";
    throw new StepFailure(`schema ${name} already exists and belongs to something else`);
  }
  await em.execute(`create schema ${ident}`);
  await em.execute(`comment on schema ${ident} is ?`, [mark]);
  return "created";
}

/** Drops `name` (cascade) if it exists and the tenant owns it; refuses a schema it does not own. */
export async function dropOwnedSchema(em: EntityManager, name: string, tenantId: string): Promise<"dropped" | "absent"> {
  const ident = quoteIdent(name);
  await lockName(em, name);
  const found = await schemaMark(em, name);
  if (!found.exists) return "absent";
  if (found.mark !== ownerMark(tenantId)) throw new StepFailure(`schema ${name} is not owned by this tenant; left in place`);
  await em.execute(`drop schema ${ident} cascade`);
  return "dropped";
}

export async function schemaExists(em: EntityManager, name: string): Promise<boolean> {
  return (await schemaMark(em, name)).exists;
}
