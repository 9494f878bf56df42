/**
 * Scheduler figure (issue 5): 10,000 due connectors, two scheduler processes
 * (`node dist/src/main.js` with GANTRY_ROLES=scheduler) against one PostgreSQL: time from "all due"
 * (plus a wake-up) until every connector has its run, and the number of duplicate runs.
 *   node dist/bench/scheduler.js [--quick]
 */
import path from "node:path";
import { MAIN, freshDatabase, quick, startChild, table } from "./lib.js";
import { insertTenant, seedConnectors } from "./connectors-support.js";
import type { ScenarioResult } from "./run.js";
import { SCHEDULER_CHANNEL } from "../src/connectors/types.js";

export async function run(): Promise<ScenarioResult> {
  const n = quick() ? 500 : 10_000;
  const db = await freshDatabase("sched", { migrate: true });
  const rows: Record<string, string | number>[] = [];
  const figures: Record<string, number> = {};
  try {
    const tenantId = await insertTenant(db.pool, "bench");
    await seedConnectors(db.pool, tenantId, n);
    const env = { DATABASE_URL: db.url, GANTRY_ROLES: "scheduler" };
    const children = await Promise.all([0, 1].map(() => startChild(MAIN, env, /Gantry is ready/)));
    try {
      // One statement makes all of them due at its commit; the clock starts then.
      const updateStarted = performance.now();
      await db.pool.query(`update connector set next_run_at = now() - interval '1 second'`);
      const started = performance.now();
      const updateMs = started - updateStarted;
      await db.pool.query(`select pg_notify($1, '')`, [SCHEDULER_CHANNEL]);
      let runs = 0;
      while (runs < n) {
        runs = (await db.pool.query(`select count(*)::int as n from connector_run`)).rows[0].n;
        if (performance.now() - started > 120_000) throw new Error(`only ${runs} runs after 120 s`);
        if (runs < n) await new Promise((r) => setTimeout(r, 10));
      }
      const ms = performance.now() - started;
      // Let both settle, then look for duplicates.
      await new Promise((r) => setTimeout(r, quick() ? 300 : 1_000));
      const { rows: [counts] } = await db.pool.query(
        `select count(*)::int as runs, count(distinct connector_id)::int as connectors from connector_run`,
      );
      const perProcess = await db.pool.query(
        `select count(*)::int as n from connector where next_run_at > now()`,
      );
      if (counts.runs !== counts.connectors || counts.connectors !== n) throw new Error(`${counts.runs} runs for ${counts.connectors} of ${n} connectors: duplicates or misses`);
      figures.dispatchAllMs = ms;
      figures.duplicates = counts.runs - counts.connectors;
      figures.connectors = n;
      rows.push({
        connectors: n,
        schedulers: 2,
        "dispatch all (ms)": Math.round(ms),
        "runs/s": Math.round((n * 1000) / ms),
        runs: counts.runs,
        duplicates: counts.runs - counts.connectors,
        "advanced nextRunAt": perProcess.rows[0].n,
        "make-due update (ms)": Math.round(updateMs),
      });
    } finally {
      await Promise.all(children.map((c) => c.stop()));
    }
  } finally {
    await db.drop();
  }
  return { rows, figures, notes: ["aim: under 5 s with 0 duplicates for 10,000 connectors"] };
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  process.stdout.write(table((await run()).rows) + "\n");
}
