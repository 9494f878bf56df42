/**
 * The engine scenario's peer: graphile-worker processing the same work on the same database at
 * the same concurrency — `workflows` chains of `steps` no-op jobs, each job enqueueing the next
 * (`helpers.addJob`) as a 5-step workflow hands off to its next step. Chained rather than 5,000
 * independent jobs because hand-off latency (a step done → the next one running) is the figure
 * that matters for workflows, and independent jobs would have none to measure.
 *
 * Hand-off here: from the job's work being done (just before it enqueues its successor) to the
 * successor starting — the enqueue commit, the NOTIFY, the fetch. Gantry's hand-off (engine.ts)
 * likewise spans the commit of the result and the claim of the next step.
 */
import { Logger, makeWorkerUtils, run, type Task } from "graphile-worker";
import pg from "pg";

export interface PeerFigures {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  handoffP50Ms: number;
  handoffP99Ms: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const silent = new Logger(() => () => undefined);

/** Runs the chains to completion on `url` (graphile-worker installs its own schema there). */
export async function graphilePeer(url: string, workflows: number, steps: number, concurrency: number): Promise<PeerFigures> {
  // Same pool size as the Gantry worker's ORM (10) so neither side wins on connections.
  const utils = await makeWorkerUtils({ connectionString: url, logger: silent, maxPoolSize: 10 });
  await utils.migrate();
  const ended = new Map<string, number>();
  const handoffs: number[] = [];
  let finished = 0;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (allDone = r));
  const step: Task = async (payload, helpers) => {
    const { w, i } = payload as { w: number; i: number };
    const previous = ended.get(`${w}:${i}`);
    if (previous !== undefined) handoffs.push(performance.now() - previous);
    if (i + 1 < steps) {
      ended.set(`${w}:${i + 1}`, performance.now());
      await helpers.addJob("bench_step", { w, i: i + 1 });
    } else if (++finished === workflows) allDone();
  };

  // Enqueue every chain's first job first (batches of 100), then let one worker drain them.
  for (let w = 0; w < workflows; w += 100) {
    await utils.addJobs(Array.from({ length: Math.min(100, workflows - w) }, (_, k) => ({ identifier: "bench_step", payload: { w: w + k, i: 0 } })));
  }
  const started = performance.now();
  const runner = await run({
    connectionString: url,
    concurrency,
    maxPoolSize: 10,
    pollInterval: 1000,
    noHandleSignals: true,
    logger: silent,
    taskList: { bench_step: step },
  });
  await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`graphile-worker: ${finished}/${workflows} chains finished after 120 s`)), 120_000).unref())]);
  // The last job's completion commits after its task returns: wait until the queue is empty.
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  for (const deadline = performance.now() + 30_000; ; ) {
    if (performance.now() > deadline) throw new Error("graphile-worker: jobs left in the queue after every chain finished");
    const { rows } = await pool.query<{ n: string }>("select count(*) as n from graphile_worker._private_jobs");
    if (Number(rows[0]!.n) === 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  await runner.stop();
  await pool.end();
  await utils.release();
  handoffs.sort((a, b) => a - b);
  const jobs = workflows * steps;
  return {
    jobs,
    seconds: Number(seconds.toFixed(2)),
    jobsPerSecond: Math.round(jobs / seconds),
    handoffP50Ms: Number(quantile(handoffs, 0.5).toFixed(2)),
    handoffP99Ms: Number(quantile(handoffs, 0.99).toFixed(2)),
  };
}
