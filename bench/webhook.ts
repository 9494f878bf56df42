/**
 * Webhook figure (issue 5): verified run reports per second at 32 connections — Gantry's
 * `POST /v1/etl/meltano/webhook` (verify, dedupe, transition, load hand-off, events, one
 * transaction) against a bare verify-and-update handler, in the same run. Every request finishes
 * a different QUEUED run and is signed by the stock `standardwebhooks` library.
 *   node dist/bench/webhook.js [--quick]
 * BENCH_CPU_PROF=<dir>: --cpu-prof the Gantry process (the profile is written when it stops).
 */
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { Webhook } from "standardwebhooks";
import { MAIN, cpuMs, freshDatabase, quick, startChild, table } from "./lib.js";
import { insertTenant, seedConnectors, type SeededConnector } from "./connectors-support.js";
import type { ScenarioResult } from "./run.js";

const here = path.dirname(fileURLToPath(import.meta.url));

function median<T extends { rps: number }>(rounds: T[]): T {
  return [...rounds].sort((x, y) => x.rps - y.rps)[Math.floor(rounds.length / 2)]!;
}

async function measure(url: string, connectors: SeededConnector[], runIds: string[], pid: number) {
  let next = 0;
  const cpuBefore = cpuMs(pid);
  const verifiers = connectors.map((c) => new Webhook(c.secret));
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: 32,
    amount: connectors.length,
    // autocannon notices that `amount` is done only at its next sample tick (1 s by default), so
    // a round's time was rounded up to whole seconds (every figure was 2000/2, /3, /5 or /6).
    sampleInt: 25,
    requests: [
      {
        method: "POST",
        path: "/v1/etl/meltano/webhook",
        setupRequest: (req) => {
          const i = next++ % connectors.length;
          const body = JSON.stringify({ connector_id: connectors[i]!.id, run_id: runIds[i], status: "success", rows_synced: 10, state: { bookmarks: { s: { v: i } } } });
          const id = `msg_${randomUUID()}`;
          const now = new Date();
          return {
            ...req,
            body,
            headers: {
              "content-type": "application/json",
              "webhook-id": id,
              "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
              "webhook-signature": verifiers[i]!.sign(id, now, body),
            },
          };
        },
      },
    ],
  });
  const seconds = (performance.now() - started) / 1000;
  const cpuPerRequest = (cpuMs(pid) - cpuBefore) / Math.max(1, result.requests.total);
  return { rps: result.requests.total / seconds, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors, cpuPerRequest };
}

export async function run(): Promise<ScenarioResult> {
  const n = quick() ? 300 : 6_000;
  const masterKey = randomBytes(32);
  const db = await freshDatabase("hook", { migrate: true });
  const rows: Record<string, string | number>[] = [];
  const figures: Record<string, number> = {};
  try {
    const tenantId = await insertTenant(db.pool, "bench");
    const warm = await seedConnectors(db.pool, tenantId, quick() ? 100 : 400, { masterKey, queuedRun: true });
    const forGantry = await seedConnectors(db.pool, tenantId, n, { masterKey, queuedRun: true });
    const forBare = await seedConnectors(db.pool, tenantId, n, { masterKey, queuedRun: true });
    const env = { DATABASE_URL: db.url, GANTRY_MASTER_KEY: masterKey.toString("base64") };
    const profileDir = process.env.BENCH_CPU_PROF;
    const gantry = await startChild(
      MAIN,
      { ...env, GANTRY_ROLES: "api" },
      /GraphQL \(HTTP \+ graphql-ws\): (http:\/\/\S+)\/graphql/,
      profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
    );
    const bare = await startChild(path.join(here, "webhook-bare.js"), env, /bare listening on (http:\/\/\S+)/);
    try {
      const warmN = quick() ? 50 : 200;
      const half = (xs: string[] | SeededConnector[], i: number) => xs.slice(i * warmN, (i + 1) * warmN);
      const gPid = gantry.process.pid!;
      const bPid = bare.process.pid!;
      await measure(gantry.match[1]!, half(warm.connectors, 0) as SeededConnector[], half(warm.runIds, 0) as string[], gPid);
      await measure(bare.match[1]!, half(warm.connectors, 1) as SeededConnector[], half(warm.runIds, 1) as string[], bPid);
      // The machine's load moves: alternate three rounds (a third of the runs each), keep medians.
      const third = Math.floor(n / 3);
      const gRounds: Awaited<ReturnType<typeof measure>>[] = [];
      const bRounds: Awaited<ReturnType<typeof measure>>[] = [];
      for (let round = 0; round < 3; round++) {
        const slice = <T>(xs: T[]) => xs.slice(round * third, round === 2 ? n : (round + 1) * third);
        gRounds.push(await measure(gantry.match[1]!, slice(forGantry.connectors), slice(forGantry.runIds), gPid));
        bRounds.push(await measure(bare.match[1]!, slice(forBare.connectors), slice(forBare.runIds), bPid));
      }
      const g = median(gRounds);
      const b = median(bRounds);
      const { rows: [done] } = await db.pool.query(
        `select count(*) filter (where status <> 'QUEUED' and connector_id = any($1::uuid[]))::int as gantry,
                count(*) filter (where status <> 'QUEUED' and connector_id = any($2::uuid[]))::int as bare
           from connector_run`,
        [forGantry.connectors.map((c) => c.id), forBare.connectors.map((c) => c.id)],
      );
      const failed = [...gRounds, ...bRounds].find((r) => r.non2xx || r.errors);
      if (failed || done.gantry !== n || done.bare !== n) {
        throw new Error(`reports lost: ${done.gantry}/${n} (gantry) and ${done.bare}/${n} (bare) runs left QUEUED, ${failed?.non2xx ?? 0} non-2xx`);
      }
      rows.push({ server: "gantry webhook", reports: n, "reported runs": done.gantry, "reports/s": Math.round(g.rps), "p50 ms": g.p50, "p99 ms": g.p99, non2xx: g.non2xx, "server CPU ms/req": g.cpuPerRequest.toFixed(2) });
      rows.push({ server: "bare verify + update", reports: n, "reported runs": done.bare, "reports/s": Math.round(b.rps), "p50 ms": b.p50, "p99 ms": b.p99, non2xx: b.non2xx, "server CPU ms/req": b.cpuPerRequest.toFixed(2) });
      Object.assign(figures, { gantryReportsPerSecond: g.rps, bareReportsPerSecond: b.rps, ratio: g.rps / b.rps, gantryCpuMsPerRequest: g.cpuPerRequest, bareCpuMsPerRequest: b.cpuPerRequest });
      rows.push({ server: "ratio", reports: "", "reported runs": "", "reports/s": `${Math.round((g.rps / b.rps) * 100)} %`, "p50 ms": "", "p99 ms": "", non2xx: "", "server CPU ms/req": `${Math.round((b.cpuPerRequest / g.cpuPerRequest) * 100)} %` });
    } finally {
      await Promise.all([gantry.stop(), bare.stop()]);
    }
  } finally {
    await db.drop();
  }
  return { rows, figures, notes: ["aim: Gantry at 50 % or more of the bare handler's rate, same run"] };
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  process.stdout.write(table((await run()).rows) + "\n");
}
