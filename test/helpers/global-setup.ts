/**
 * Migrates one template database per test run; every test file clones its own database from it
 * (`createTestDatabase`), so files run in parallel without seeing each other's rows. Names carry
 * a run id, so several runs (CI, a developer, a helper) can share one PostgreSQL server.
 */
import pg from "pg";
import type { TestProject } from "vitest/node";
import { initOrm, migrate } from "../../src/db/orm.js";

declare module "vitest" {
  export interface ProvidedContext {
    databaseAdminUrl: string;
    templateDatabase: string;
    testRunId: string;
  }
}

export function adminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? "postgresql://root@127.0.0.1:5432/postgres";
}

export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function dropRunDatabases(runId: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      `select datname from pg_database where datname like $1`,
      [`gantry_%_${runId}%`],
    );
    for (const { datname } of rows) {
      await client.query(`drop database if exists "${datname}" with (force)`);
    }
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const template = `gantry_tpl_${runId}`;
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(`create database "${template}"`);
  } finally {
    await client.end();
  }
  const orm = await initOrm({ clientUrl: databaseUrl(adminUrl(), template), poolMax: 2 });
  try {
    await migrate(orm);
  } finally {
    await orm.close(true);
  }
  project.provide("databaseAdminUrl", adminUrl());
  project.provide("templateDatabase", template);
  project.provide("testRunId", runId);
  return () => dropRunDatabases(runId);
}
