/**
 * Engine benchmark: 1,000 workflows × 5 no-op action steps through one worker with 16
 * concurrent step executions, on PostgreSQL (DATABASE_URL or 127.0.0.1:5432). Reports
 *  - step throughput (steps/s, each step = RUNNING then COMPLETED, with events), against a raw
 *    single-row UPDATE commit loop at the same concurrency measured in the same run;
 *  - step-to-next-step hand-off: from a step's `run` returning to the next step's `run` starting
 *    (commit of the result + claim of the next step), p50 and p99.
 * Run: `npm run bench -- --only=engine` (or `node dist/bench/engine.js [workflows] [steps]`
 * after `npm run build`); `--quick` runs 100 workflows. Experiments: BENCH_NO_PEER=1 (no
 * graphile-worker), BENCH_PREFETCH / BENCH_PARALLEL_ROUNDS (worker options), BENCH_CONCURRENCY (step
 * executions at once, for both sides; the figures are at 16), BENCH_WORKER_PROF and BENCH_PSS (see
 * startDiagnostics).
 */
import "reflect-metadata";
import path from "node:path";
import pg from "pg";
import { randomBytes, randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { databaseUrl, quick, table, withAdmin } from "./lib.js";
import { graphilePeer, type PeerFigures } from "./graphile-peer.js";
import { pino } from "pino";
import { initOrm, migrate, systemEm } from "../src/db/orm.js";
import { EventBus } from "../src/events/index.js";
import { defineWorkflow, startWorker, startWorkflow, WorkflowRegistry } from "../src/engine/index.js";

// 16 for the figures; other values only to see how the cost per step moves with the round's size.
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const numericArg = (i: number) => (process.argv[i] && /^\d+$/.test(process.argv[i]!) ? Number(process.argv[i]) : undefined);

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** Single-row UPDATE commits from `clients` connections for `ms`: the database's commit rate. */
async function rawUpdateLoop(url: string, clients: number, ms: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: clients });
  await pool.query(`create table if not exists bench_counter (id int primary key, n bigint not null)`);
  await pool.query(`insert into bench_counter select g, 0 from generate_series(1, ${clients}) g on conflict do nothing`);
  let commits = 0;
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const client = await pool.connect();
      try {
        while (performance.now() < until) {
          await client.query(`update bench_counter set n = n + 1 where id = $1`, [i + 1]);
          commits++;
        }
      } finally {
        client.release();
      }
    }),
  );
  const seconds = ms / 1000;
  await pool.end();
  return commits / seconds;
}

/**
 * CPU time (µs) of each PostgreSQL backend connected to `db`, by pid, from /proc (the server runs
 * on this machine in the bench setup; empty where /proc or the pids are not readable). Less noisy
 * than wall-clock figures when other work shares the cores.
 */
async function backendCpu(db: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const { rows } = await withAdmin((c) => c.query<{ pid: number }>(`select pid from pg_stat_activity where datname = $1`, [db]));
  for (const { pid } of rows) {
    try {
      const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
      // utime, stime (fields 14, 15 of stat; 12, 13 after the command name), in clock ticks of 10 ms.
      out.set(pid, (Number(fields[11]) + Number(fields[12])) * 10_000);
    } catch {
      // not on this machine, or gone
    }
  }
  return out;
}

export interface EngineFigures {
  workflows: number;
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  rawUpdateCommitsPerSecond: number;
  ratio: number;
  handoffP50Ms: number;
  handoffP99Ms: number;
  /** Hand-off of a lone workflow (no backlog). */
  idleHandoffP50Ms: number;
  idleHandoffP99Ms: number;
  eventsWritten: number;
  /** CPU of this process (the worker) per step, in microseconds. */
  workerCpuUsPerStep: number;
  /** CPU of the PostgreSQL backends serving the run per step, in microseconds (0: not measurable). */
  pgCpuUsPerStep: number;
  /** The peer, graphile-worker, on the same database: chained no-op jobs (graphile-peer.ts). */
  graphile: PeerFigures;
}

async function measure(WORKFLOWS: number, STEPS: number): Promise<EngineFigures> {
  const db = `gantry_bench_engine_${process.pid}_${Date.now().toString(36)}`;
  await withAdmin((c) => c.query(`create database "${db}"`));
  const url = databaseUrl(db);
  const log = pino({ level: "warn" });
  const orm = await initOrm({ clientUrl: url, poolMax: 10, log });
  try {
    await migrate(orm);
    const tenantId = randomUUID();
    await orm.em.getConnection().execute(`insert into tenant (id, slug, name) values (?, 'bench', 'Bench')`, [tenantId]);

    // Hand-off timing: when each step's run started and returned, by workflow and position.
    const ended = new Map<string, number>();
    const handoffs: number[] = [];
    let finished = 0;
    let singleDone: () => void = () => undefined;
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (allDone = r));
    const registry = new WorkflowRegistry();
    registry.register(
      defineWorkflow({
        kind: "bench_noop",
        steps: Array.from({ length: STEPS }, (_, i) => ({
          name: `s${i + 1}`,
          kind: "action" as const,
          run: async (ctx) => {
            const now = performance.now();
            const previous = ended.get(`${ctx.workflowId}:${i}`);
            if (previous !== undefined) handoffs.push(now - previous);
            ended.set(`${ctx.workflowId}:${i + 1}`, performance.now());
            if (i + 1 === STEPS) {
              if (ctx.input.single) singleDone();
              else if (++finished === WORKFLOWS) allDone();
            }
          },
        })),
      }),
    );

    // The machine's commit rate, measured before and after the engine run (averaged), so a
    // change in background load during the run shows in both sides of the ratio.
    const rawBefore = await rawUpdateLoop(url, CONCURRENCY, quick() ? 500 : 2000);

    // Enqueue everything first (in batches of 100 per transaction), then let one worker drain it.
    for (let i = 0; i < WORKFLOWS; i += 100) {
      await systemEm(orm).transactional(async (tem) => {
        for (let j = i; j < Math.min(WORKFLOWS, i + 100); j++) await startWorkflow(tem, { kind: "bench_noop", tenantId, input: { j } }, registry);
      });
    }
    const events = new EventBus(orm, log, { listenUrl: url, pollMs: 1000 });
    await events.start();
    const diagnostics = await startDiagnostics();
    const pgBefore = await backendCpu(db);
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const worker = startWorker(
      { orm, log, events, config: { masterKey: randomBytes(32), publicUrl: "http://127.0.0.1" } },
      { concurrency: CONCURRENCY, registry, leaseMs: 30_000, pollMs: 1000, ...tuning() },
    );
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${finished}/${WORKFLOWS} workflows ran their last step within 120 s`)), 120_000).unref())]);
    // The last results are committed by the flush that follows the last run.
    for (const deadline = performance.now() + 60_000; ; ) {
      if (performance.now() > deadline) throw new Error(`workflows did not all complete within 60 s of the last step`);
      const [row] = await orm.em.getConnection().execute<{ n: string }[]>(`select count(*) as n from workflow where status = 'COMPLETED'`);
      if (Number(row!.n) === WORKFLOWS) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (performance.now() - started) / 1000;
    await diagnostics.stop(db);
    const cpu = process.cpuUsage(cpuBefore);
    let pgCpu = 0;
    for (const [pid, us] of await backendCpu(db)) pgCpu += us - (pgBefore.get(pid) ?? 0);

    // Hand-off with no backlog: one workflow at a time, nothing else running.
    const backlogHandoffs = handoffs.splice(0);
    for (let k = 0; k < (quick() ? 5 : 30); k++) {
      const finishedOne = new Promise<void>((r) => (singleDone = r));
      await systemEm(orm).transactional((tem) => startWorkflow(tem, { kind: "bench_noop", tenantId, input: { single: true } }, registry));
      await finishedOne;
    }
    const idleHandoffs = handoffs.splice(0).sort((a, b) => a - b);
    handoffs.push(...backlogHandoffs);
    await worker.stop();
    await events.stop();
    const rawAfter = await rawUpdateLoop(url, CONCURRENCY, quick() ? 500 : 2000);
    const raw = (rawBefore + rawAfter) / 2;
    // BENCH_NO_PEER=1 skips graphile-worker (for quick alternated runs of the engine alone).
    const graphile = process.env.BENCH_NO_PEER ? { jobs: 0, seconds: 0, jobsPerSecond: 0, handoffP50Ms: 0, handoffP99Ms: 0 } : await graphilePeer(url, WORKFLOWS, STEPS, CONCURRENCY);

    const [counts] = await orm.em.getConnection().execute<{ events: string }[]>(`select count(*) as events from event`);
    const steps = WORKFLOWS * STEPS;
    const stepsPerSecond = steps / seconds;
    handoffs.sort((a, b) => a - b);
    return {
      workflows: WORKFLOWS,
      steps,
      seconds: Number(seconds.toFixed(2)),
      stepsPerSecond: Math.round(stepsPerSecond),
      rawUpdateCommitsPerSecond: Math.round(raw),
      ratio: Number((stepsPerSecond / raw).toFixed(3)),
      handoffP50Ms: Number(quantile(handoffs, 0.5).toFixed(2)),
      handoffP99Ms: Number(quantile(handoffs, 0.99).toFixed(2)),
      idleHandoffP50Ms: Number(quantile(idleHandoffs, 0.5).toFixed(2)),
      idleHandoffP99Ms: Number(quantile(idleHandoffs, 0.99).toFixed(2)),
      eventsWritten: Number(counts!.events),
      workerCpuUsPerStep: Math.round((cpu.user + cpu.system) / steps),
      pgCpuUsPerStep: Math.round(pgCpu / steps),
      graphile,
    };
  } finally {
    await orm.close(true);
    await withAdmin((c) => c.query(`drop database if exists "${db}" with (force)`));
  }
}

/** The `npm run bench` scenario. */
export async function run(): Promise<{ rows: Record<string, string | number>[]; figures: Record<string, number>; notes: string[] }> {
  const f = await measure(numericArg(2) ?? (quick() ? 40 : 1000), numericArg(3) ?? 5);
  const { graphile, ...own } = f;
  return {
    rows: [
      { measure: `engine: ${f.workflows} workflows × ${f.steps / f.workflows} no-op steps, ${CONCURRENCY} concurrent`, value: `${f.stepsPerSecond} steps/s (${f.seconds} s)` },
      { measure: `raw single-row UPDATE commits, ${CONCURRENCY} connections`, value: `${f.rawUpdateCommitsPerSecond} /s` },
      { measure: "ratio (aim ≥ 50 %)", value: `${(f.ratio * 100).toFixed(0)} %` },
      { measure: `graphile-worker: ${f.graphile.jobs} chained no-op jobs, ${CONCURRENCY} concurrent`, value: `${f.graphile.jobsPerSecond} jobs/s (${f.graphile.seconds} s), hand-off p50 / p99 ${f.graphile.handoffP50Ms} / ${f.graphile.handoffP99Ms} ms` },
      { measure: "engine / graphile-worker (aim ≥ 1.0×)", value: `${(f.stepsPerSecond / f.graphile.jobsPerSecond).toFixed(2)}×` },
      { measure: "step → next step hand-off p50 (aim < 5 ms)", value: `${f.handoffP50Ms} ms` },
      { measure: "step → next step hand-off p99", value: `${f.handoffP99Ms} ms` },
      { measure: "hand-off of a lone workflow (no backlog) p50 / p99", value: `${f.idleHandoffP50Ms} / ${f.idleHandoffP99Ms} ms` },
      { measure: "events written", value: f.eventsWritten },
      { measure: "worker CPU per step", value: `${f.workerCpuUsPerStep} µs` },
      { measure: "PostgreSQL backend CPU per step", value: f.pgCpuUsPerStep ? `${f.pgCpuUsPerStep} µs` : "not measured" },
    ],
    figures: { ...own, graphileJobsPerSecond: graphile.jobsPerSecond, graphileHandoffP50Ms: graphile.handoffP50Ms, graphileHandoffP99Ms: graphile.handoffP99Ms },
    notes: [
      "A step is claimed (RUNNING, step.started) and completed (COMPLETED, step.completed) in batched, fenced transactions; the round that commits a step's result also leases the workflow's next step to the same worker (eager continuation) and claims due steps for the slots left.",
      "Hand-off: from a step's run returning to the next step's run starting, which includes the commit of the result and the claim of the next step. Under the 1,000-workflow backlog it includes waiting for the round in progress (a round takes every result finished while the previous one was in flight).",
    ],
  };
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const { rows } = await run();
  process.stdout.write(table(rows) + "\n");
}

/**
 * Optional diagnostics of the backlog phase alone (the worker draining the queue):
 * BENCH_WORKER_PROF=<file>: a CPU profile of this process (the worker), written as .cpuprofile;
 * BENCH_PSS=1: the top statements by time from pg_stat_statements, on stderr (the server must
 * preload it: `shared_preload_libraries = 'pg_stat_statements'`).
 */
async function startDiagnostics(): Promise<{ stop(db: string): Promise<void> }> {
  const file = process.env.BENCH_WORKER_PROF;
  const profiler = file ? new (await import("node:inspector/promises")).Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post("Profiler.enable");
    await profiler.post("Profiler.start");
  }
  if (process.env.BENCH_PSS) await withAdmin((c) => c.query("select pg_stat_statements_reset(), pg_stat_reset_shared('wal')"));
  return {
    async stop(db) {
      if (profiler) {
        const { profile } = await profiler.post("Profiler.stop");
        await writeFile(file!, JSON.stringify(profile));
        profiler.disconnect();
      }
      if (!process.env.BENCH_PSS) return;
      const { rows } = await withAdmin((c) =>
        c.query(
          `select calls, round(total_exec_time::numeric, 1) as exec_ms, round(total_plan_time::numeric, 1) as plan_ms, rows,
                  left(regexp_replace(query, '\\s+', ' ', 'g'), 70) as query
             from pg_stat_statements where dbid = (select oid from pg_database where datname = $1)
            order by total_exec_time + total_plan_time desc limit 12`,
          [db],
        ),
      );
      console.error(["calls\texec ms\tplan ms\trows\tstatement", ...rows.map((r) => `${r.calls}\t${r.exec_ms}\t${r.plan_ms}\t${r.rows}\t${r.query}`)].join("\n"));
      // The whole server's WAL (this bench is meant to run alone); flush times need track_wal_io_timing.
      const { rows: wal } = await withAdmin((c) => c.query(`select wal_records, wal_fpi, wal_bytes, wal_write, wal_sync, round(wal_sync_time::numeric, 1) as sync_ms from pg_stat_wal`));
      console.error(`wal: ${JSON.stringify(wal[0])}`);
    },
  };
}

/** Optional worker tuning for experiments: BENCH_PREFETCH, BENCH_PARALLEL_ROUNDS. */
function tuning(): { prefetch?: number; parallelRounds?: number } {
  const out: { prefetch?: number; parallelRounds?: number } = {};
  if (process.env.BENCH_PREFETCH) out.prefetch = Number(process.env.BENCH_PREFETCH);
  if (process.env.BENCH_PARALLEL_ROUNDS) out.parallelRounds = Number(process.env.BENCH_PARALLEL_ROUNDS);
  return out;
}
