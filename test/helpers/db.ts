/** Per-test-file databases cloned from the migrated template (see global-setup.ts). */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { databaseUrl } from "./global-setup.js";

export interface TestDatabase {
  name: string;
  url: string;
  /** Runs SQL on this database with a short-lived client (for arranging and asserting). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

async function onAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject("databaseAdminUrl") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `gantry_t_${inject("testRunId")}_${randomBytes(4).toString("hex")}`;
  const template = inject("templateDatabase");
  await onAdmin(async (client) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`create database "${name}" template "${template}"`);
        return;
      } catch (err) {
        // Two files cloning at the same instant can briefly see each other on the template.
        if (attempt >= 10 || !String(err).includes("being accessed by other users")) throw err;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  });
  const url = databaseUrl(inject("databaseAdminUrl"), name);
  return {
    name,
    url,
    async query(sql, params) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    drop: () => onAdmin(async (client) => void (await client.query(`drop database if exists "${name}" with (force)`))),
  };
}
