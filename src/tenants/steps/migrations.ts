/**
 * Step 3: the tenant schema's versioned SQL migrations. Files `NNN[x]_name.sql` (e.g.
 * `001_core.sql`, `027b_backfill.sql`) in the migrations directory are applied in version order
 * inside the tenant schema (`search_path` set to it), each in its own transaction together with
 * its row in `<schema>.schema_migrations`, so a failure leaves every earlier migration applied and
 * recorded and the failed one not at all. A re-run skips what is recorded. A recorded migration
 * whose file has changed since is refused: tenant migrations are append-only.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { quoteIdent, tenantSchemaName } from "../naming.js";
import { inTransaction, pgMessage, schemaExists } from "./sql.js";
import { StepFailure, type StepDeps, type TenantRef, type TenantStep } from "./types.js";
import { TENANT_STEP_TITLES } from "../step-names.js";

const FILE = /^(\d{3}[a-z]?)_([a-z0-9_]+)\.sql$/;

export interface TenantMigration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

/**
 * The bundled migrations: `src/tenants/sql`. Found next to this file under vitest, and from
 * `dist/src/tenants/steps` in a build (tsc does not copy .sql files; the repo ships `src/`).
 */
export function bundledMigrationsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, "../sql"), path.resolve(here, "../../../../src/tenants/sql")];
  return candidates.find((dir) => fs.existsSync(dir)) ?? candidates[0]!;
}

export function migrationsDir(deps: Pick<StepDeps, "config">): string {
  return deps.config.tenantMigrationsDir ?? bundledMigrationsDir();
}

/** Reads the migration files in version order; other files in the directory are ignored. */
export function loadTenantMigrations(dir: string): TenantMigration[] {
  const migrations: TenantMigration[] = [];
  for (const file of fs.readdirSync(dir)) {
    const match = FILE.exec(file);
    if (!match) continue;
    const sql = fs.readFileSync(path.join(dir, file), "utf8");
    migrations.push({
      version: match[1]!,
      name: match[2]!,
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  migrations.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new StepFailure(`Two tenant migrations share version ${migrations[i]!.version}`);
    }
  }
  return migrations;
}

export const migrationsStep: TenantStep = {
  name: "step_3",
  title: TENANT_STEP_TITLES.step_3!,
  async run(deps: StepDeps, tenant: TenantRef) {
    const schema = tenantSchemaName(tenant.slug);
    const ident = quoteIdent(schema);
    const migrations = loadTenantMigrations(migrationsDir(deps));
    const applied: string[] = [];
    for (const migration of migrations) {
      const ran = await inTransaction(deps, async (em) => {
        // One migrator per tenant schema at a time, however many workers hold the step.
        await em.execute(`select pg_advisory_xact_lock(hashtext(?))`, [`gantry:migrate:${schema}`]);
        if (!(await schemaExists(em, schema))) throw new StepFailure(`schema ${schema} does not exist`);
        await em.execute(`create table if not exists ${ident}.schema_migrations (
          version text primary key, name text not null, checksum text not null,
          applied_at timestamptz(3) not null default now())`);
        const done = await em.execute<{ checksum: string }[]>(
          `select checksum from ${ident}.schema_migrations where version = ?`,
          [migration.version],
        );
        if (done.length > 0) {
          if (done[0]!.checksum !== migration.checksum) {
            throw new StepFailure(`Migration ${migration.version} was changed after it was applied`);
          }
          return false;
        }
        await em.execute(`set local search_path to ${ident}`);
        try {
          await em.execute(migration.sql);
        } catch (err) {
          throw new StepFailure(`Migration ${migration.version} failed: ${pgMessage(err, migration.sql)}`, { cause: err });
        }
        await em.execute(`set local search_path to default`);
        await em.execute(`insert into ${ident}.schema_migrations (version, name, checksum) values (?, ?, ?)`, [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        return true;
      });
      if (ran) applied.push(migration.version);
    }
    return { schema, applied, total: migrations.length };
  },
  /**
   * Migrations have no down scripts; everything they made lives in the tenant schema, so the
   * compensation empties that schema again (drop and re-create, owner mark kept), which is the
   * state step 2 left it in. A schema that is gone already is left gone.
   */
  async compensate(deps: StepDeps, tenant: TenantRef) {
    const schema = tenantSchemaName(tenant.slug);
    const ident = quoteIdent(schema);
    await inTransaction(deps, async (em) => {
      await em.execute(`select pg_advisory_xact_lock(hashtext(?))`, [`gantry:migrate:${schema}`]);
      const rows = await em.execute<{ mark: string | null }[]>(
        `select obj_description(oid, 'pg_namespace') as mark from pg_namespace where nspname = ?`,
        [schema],
      );
      if (rows.length === 0) return;
      const mark = rows[0]!.mark;
      if (mark !== `gantry:tenant:${tenant.id}`) throw new StepFailure(`schema ${schema} is not owned by this tenant; left in place`);
      await em.execute(`drop schema ${ident} cascade`);
      await em.execute(`create schema ${ident}`);
      await em.execute(`comment on schema ${ident} is ?`, [mark]);
    });
  },
};
