/** Helpers for the connector benchmarks: a fresh migrated database, child processes, seeding. */
import "reflect-metadata";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { initOrm, migrate } from "../src/db/orm.js";
import { encryptSecret } from "../src/crypto/index.js";
import { webhookSecretAad } from "../src/connectors/secrets.js";
import { databaseUrl, withAdmin } from "./lib.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const MAIN = path.resolve(here, "../src/main.js");
export { ADMIN_URL, cpuMs, quick, table } from "./lib.js";

export interface BenchDb {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** A fresh database with Gantry's migrations applied. */
export async function freshDatabase(prefix: string): Promise<BenchDb> {
  const name = `gantry_bench_${prefix}_${process.pid}_${Date.now().toString(36)}`;
  await withAdmin((c) => c.query(`create database "${name}"`));
  const url = databaseUrl(name);
  const orm = await initOrm({ clientUrl: url, poolMax: 2 });
  await migrate(orm);
  await orm.close(true);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      await withAdmin((c) => c.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

export interface Child {
  process: ChildProcess;
  match: RegExpExecArray;
  stop(): Promise<void>;
}

/** Spawns `node <script>` and resolves once its output matches `ready`. */
export function startChild(script: string, env: Record<string, string>, ready: RegExp): Promise<Child> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-bench-"));
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: "0", LOG_LEVEL: "warn", GANTRY_DATA_DIR: dataDir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (!match) return;
      child.stdout!.off("data", onData);
      child.stdout!.resume();
      resolve({
        process: child,
        match,
        stop: () =>
          new Promise<void>((done) => {
            const finish = () => {
              fs.rmSync(dataDir, { recursive: true, force: true });
              done();
            };
            if (child.exitCode !== null) return finish();
            child.once("exit", finish);
            child.kill("SIGTERM");
          }),
      });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}:\n${output.slice(-2000)}`)));
  });
}

export async function insertTenant(pool: pg.Pool, slug: string): Promise<string> {
  const id = randomUUID();
  await pool.query(`insert into tenant (id, slug, name, provisioning_state) values ($1, $2, $2, 'ACTIVE')`, [id, slug]);
  await pool.query(`insert into lakehouse.tenant_catalogs (id, tenant_id, name) values ($1, $2, 'lakehouse')`, [randomUUID(), id]);
  return id;
}

export interface SeededConnector {
  id: string;
  secret: string;
}

/**
 * Inserts `n` ACTIVE connectors (their webhook secret sealed as Gantry does), `nextRunAt` as given
 * in SQL, optionally each with one QUEUED run (returned ids match by index).
 */
export async function seedConnectors(
  pool: pg.Pool,
  tenantId: string,
  n: number,
  options: { masterKey?: Buffer; nextRunAt?: string; queuedRun?: boolean } = {},
): Promise<{ connectors: SeededConnector[]; runIds: string[] }> {
  const connectors: SeededConnector[] = [];
  const runIds: string[] = [];
  for (let offset = 0; offset < n; offset += 2000) {
    const batch = Array.from({ length: Math.min(2000, n - offset) }, (_, i) => {
      const id = randomUUID();
      const secret = `whsec_${randomBytes(32).toString("base64")}`;
      connectors.push({ id, secret });
      return {
        id,
        table: `t_${offset + i}`,
        envelope: options.masterKey ? encryptSecret(options.masterKey, secret, webhookSecretAad(id)) : "unused",
      };
    });
    await pool.query(
      `insert into connector (id, tenant_id, source_system, tap_name, destination_catalog, destination_table, lakehouse_namespace,
                              sync_schedule, meltano_environment, webhook_secret_envelope, next_run_at)
       select x.id, $2, 'bench', 'tap-synthetic', 'lakehouse', x.table, 'gantry_tenant_bench', '0 2 * * *', 'prod', x.envelope,
              ${options.nextRunAt ?? "now() + interval '1 day'"}
         from jsonb_to_recordset($1::jsonb) as x(id uuid, "table" text, envelope text)`,
      [JSON.stringify(batch), tenantId],
    );
    if (options.queuedRun) {
      const runs = batch.map((c) => ({ id: randomUUID(), connector_id: c.id }));
      runIds.push(...runs.map((r) => r.id));
      await pool.query(
        `insert into connector_run (id, tenant_id, connector_id, status, deadline_at)
         select x.id, $2, x.connector_id, 'QUEUED', now() + interval '1 hour'
           from jsonb_to_recordset($1::jsonb) as x(id uuid, connector_id uuid)`,
        [JSON.stringify(runs), tenantId],
      );
    }
  }
  return { connectors, runIds };
}
