/**
 * Read figure (issue 5): `connectors` (50 connectors, each with its last run) at 32 connections,
 * Gantry (api role, a tenant JWT) against a bare node:http + pg handler returning the same JSON,
 * in the same run, each in its own process.
 *   node dist/bench/reads.js [--quick]
 * BENCH_CPU_PROF=<dir>: --cpu-prof the Gantry process (the profile is written when it stops).
 * Gantry runs with NODE_ENV=production, as deployed (BENCH_NODE_ENV overrides).
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { SignJWT } from "jose";
import { MAIN, cpuMs, freshDatabase, quick, startChild, table, type BenchDb } from "./lib.js";
import { insertTenant, seedConnectors } from "./connectors-support.js";
import type { ScenarioResult } from "./run.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const QUERY = `{ connectors(first: 50) { nodes { id sourceSystem tapName status nextRunAt lastSyncedAt rowsTotal
  lastRun { id status rowsSynced rowsLoaded queuedAt completedAt } } } }`;

function median<T extends { rps: number }>(rounds: T[]): T {
  return [...rounds].sort((x, y) => x.rps - y.rps)[Math.floor(rounds.length / 2)]!;
}

/**
 * Committed transactions in the bench database: every statement either server sends runs on its
 * own (no explicit transactions), so the delta over a round divided by its requests is the SQL
 * statements per request. The statistics are flushed lazily (PostgreSQL 15), hence the pause.
 */
async function commits(pool: BenchDb["pool"]): Promise<number> {
  await new Promise((r) => setTimeout(r, 1200));
  const { rows } = await pool.query(`select xact_commit::int as n from pg_stat_database where datname = current_database()`);
  return rows[0].n as number;
}

async function measure(url: string, headers: Record<string, string>, seconds: number, pid: number, pool?: BenchDb["pool"]) {
  const commitsBefore = pool ? await commits(pool) : 0;
  const cpuBefore = cpuMs(pid);
  const result = await autocannon({
    url,
    connections: 32,
    duration: seconds,
    method: "POST",
    body: JSON.stringify({ query: QUERY }),
    headers: { "content-type": "application/json", ...headers },
  });
  const cpuPerRequest = (cpuMs(pid) - cpuBefore) / Math.max(1, result.requests.total);
  // Less the statements of this measurement itself (the two reads of the counter).
  const statements = pool ? (await commits(pool) - commitsBefore - 1) / Math.max(1, result.requests.total) : NaN;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors, cpuPerRequest, statements };
}

export async function run(): Promise<ScenarioResult> {
  const seconds = quick() ? 1 : 12;
  const db = await freshDatabase("reads", { migrate: true });
  const rows: Record<string, string | number>[] = [];
  const figures: Record<string, number> = {};
  try {
    const tenantId = await insertTenant(db.pool, "bench");
    const { connectors } = await seedConnectors(db.pool, tenantId, 50);
    // Every connector has history: 20 finished runs each, the last-run summary has to pick one.
    await db.pool.query(
      `insert into connector_run (id, tenant_id, connector_id, status, rows_synced, rows_loaded, queued_at, completed_at)
       select gen_random_uuid(), $1, c.id, 'COMPLETED', 100, 100, now() - g * interval '1 hour', now() - g * interval '1 hour' + interval '1 minute'
         from unnest($2::uuid[]) as c(id), generate_series(1, 20) g`,
      [tenantId, connectors.map((c) => c.id)],
    );
    const jwtSecret = randomBytes(32).toString("hex");
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(tenantId)
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(jwtSecret));

    const profileDir = process.env.BENCH_CPU_PROF;
    const gantry = await startChild(
      MAIN,
      // As deployed (README): graphql-js's development-mode type checks cost ~10 % of the CPU of
      // this request; BENCH_NODE_ENV=development measures without.
      { DATABASE_URL: db.url, GANTRY_ROLES: "api", JWT_SECRET: jwtSecret, NODE_ENV: process.env.BENCH_NODE_ENV ?? "production" },
      /GraphQL \(HTTP \+ graphql-ws\): (http:\/\/\S+)/,
      profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
    );
    const bare = await startChild(path.join(here, "reads-bare.js"), { DATABASE_URL: db.url, BENCH_TENANT_ID: tenantId }, /bare listening on (http:\/\/\S+)/);
    try {
      const gantryUrl = gantry.match[1]!;
      const bareUrl = bare.match[1]!;
      // Same answer from both (sanity), then warm both up.
      const check = await (await fetch(gantryUrl, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ query: QUERY }) })).json() as { data?: { connectors: { nodes: unknown[] } } };
      const bareCheck = await (await fetch(bareUrl, { method: "POST" })).json() as { data: { connectors: { nodes: unknown[] } } };
      if (check.data?.connectors.nodes.length !== 50 || JSON.stringify(check) !== JSON.stringify(bareCheck)) {
        throw new Error(`answers differ:\n${JSON.stringify(check).slice(0, 400)}\n${JSON.stringify(bareCheck).slice(0, 400)}`);
      }
      const gPid = gantry.process.pid!;
      const bPid = bare.process.pid!;
      await measure(gantryUrl, { authorization: `Bearer ${token}` }, quick() ? 1 : 2, gPid);
      await measure(bareUrl, {}, quick() ? 1 : 2, bPid);
      // The machine's load moves: alternate short rounds and keep each side's median.
      const gRounds: Awaited<ReturnType<typeof measure>>[] = [];
      const bRounds: Awaited<ReturnType<typeof measure>>[] = [];
      for (let round = 0; round < (quick() ? 1 : 3); round++) {
        gRounds.push(await measure(gantryUrl, { authorization: `Bearer ${token}` }, Math.ceil(seconds / (quick() ? 1 : 3)), gPid));
        bRounds.push(await measure(bareUrl, {}, Math.ceil(seconds / 3), bPid));
      }
      // SQL statements per request, one more round each with the counter read around it.
      const gStatements = (await measure(gantryUrl, { authorization: `Bearer ${token}` }, 2, gPid, db.pool)).statements;
      const bStatements = (await measure(bareUrl, {}, 2, bPid, db.pool)).statements;
      const g = median(gRounds);
      const b = median(bRounds);
      const failed = [...gRounds, ...bRounds].find((r) => r.non2xx || r.errors);
      if (failed) throw new Error(`requests failed: ${failed.non2xx} non-2xx, ${failed.errors} errors`);
      rows.push({ server: "gantry connectors", "req/s": Math.round(g.rps), "p50 ms": g.p50, "p99 ms": g.p99, non2xx: g.non2xx, errors: g.errors, "server CPU ms/req": g.cpuPerRequest.toFixed(2), "SQL/req": gStatements.toFixed(2) });
      rows.push({ server: "bare node:http + pg", "req/s": Math.round(b.rps), "p50 ms": b.p50, "p99 ms": b.p99, non2xx: b.non2xx, errors: b.errors, "server CPU ms/req": b.cpuPerRequest.toFixed(2), "SQL/req": bStatements.toFixed(2) });
      Object.assign(figures, { gantryRps: g.rps, bareRps: b.rps, ratio: g.rps / b.rps, gantryCpuMsPerRequest: g.cpuPerRequest, bareCpuMsPerRequest: b.cpuPerRequest, gantryStatementsPerRequest: gStatements, bareStatementsPerRequest: bStatements });
      rows.push({ server: "ratio", "req/s": `${Math.round((g.rps / b.rps) * 100)} %`, "p50 ms": "", "p99 ms": "", non2xx: "", errors: "", "server CPU ms/req": `${Math.round((b.cpuPerRequest / g.cpuPerRequest) * 100)} %`, "SQL/req": "" });
    } finally {
      await Promise.all([gantry.stop(), bare.stop()]);
    }
  } finally {
    await db.drop();
  }
  return {
    rows,
    figures,
    notes: [
      "aim: Gantry at 50 % or more of the bare handler's rate, same run",
      "SQL/req: committed transactions per request over one extra round (each statement is its own); Gantry adds a tenant check at most once a second",
      `Gantry runs with NODE_ENV=${process.env.BENCH_NODE_ENV ?? "production"} (as deployed; BENCH_NODE_ENV=development to compare)`,
    ],
  };
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  process.stdout.write(table((await run()).rows) + "\n");
}
