/**
 * Foundation figures (issue 2): cold start to ready on the embedded database and on PostgreSQL,
 * and `{ __typename }` requests/s at 32 connections against Gantry and against a bare Apollo
 * Server with the same schema, in the same run (the ratio is the cost of our middleware).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cpuMs, freshDatabase, load, quick, startChild, table, type Child, type LoadResult } from "./lib.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.resolve(here, "../src/main.js");
const BARE = path.resolve(here, "bare-apollo.js");
const READY = /GraphQL \(HTTP \+ graphql-ws\): (http:\/\/\S+)/;
const BODY = JSON.stringify({ query: "{ __typename }" });

async function coldStarts(): Promise<Record<string, number>> {
  if (quick()) {
    // --quick: one start on PostgreSQL proves the path; the embedded database's starts take most of a quick run.
    const db = await freshDatabase("http");
    const child = await startChild(MAIN, { DATABASE_URL: db.url }, READY);
    await child.stop();
    await db.drop();
    return { embeddedFirstMs: NaN, embeddedRestartMs: NaN, postgresFirstMs: child.readyMs, postgresRestartMs: NaN };
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-bench-"));
  const env = { GANTRY_DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "warn", DATABASE_URL: "" };
  const first = await startChild(MAIN, env, READY);
  await first.stop();
  const second = await startChild(MAIN, env, READY);
  await second.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });

  const db = await freshDatabase("http");
  const pgEnv = { GANTRY_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "gantry-bench-")), PORT: "0", LOG_LEVEL: "warn", DATABASE_URL: db.url };
  const pgFirst = await startChild(MAIN, pgEnv, READY);
  await pgFirst.stop();
  const pgSecond = await startChild(MAIN, pgEnv, READY);
  await pgSecond.stop();
  await db.drop();
  return {
    embeddedFirstMs: first.readyMs,
    embeddedRestartMs: second.readyMs,
    postgresFirstMs: pgFirst.readyMs,
    postgresRestartMs: pgSecond.readyMs,
  };
}

interface Measured extends LoadResult {
  cpuUsPerRequest: number;
}

async function measure(child: Child, url: string, seconds: number): Promise<Measured> {
  const before = cpuMs(child.process.pid!);
  const result = await load(url, { connections: 32, seconds, body: BODY });
  const used = cpuMs(child.process.pid!) - before;
  return { ...result, cpuUsPerRequest: (used * 1000) / (result.requestsPerSecond * seconds) };
}

function median(values: Measured[]): Measured {
  return [...values].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(values.length / 2)]!;
}

export async function run(): Promise<{ rows: Record<string, string | number>[]; figures: Record<string, number> }> {
  const starts = await coldStarts();
  const seconds = quick() ? 1 : 10;
  const db = await freshDatabase("http");
  const gantry = await startChild(
    MAIN,
    { DATABASE_URL: db.url, PORT: "0", LOG_LEVEL: "warn", GANTRY_ROLES: "api", GANTRY_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "gantry-bench-")) },
    READY,
  );
  const bare = await startChild(BARE, {}, /listening (\d+)/);
  const gantryUrl = `${gantry.match[1]}`;
  const bareUrl = `http://127.0.0.1:${bare.match[1]}/graphql`;
  // Warm both up, then measure in alternating rounds so machine noise hits both alike; CPU time
  // per request is the steadier figure on a shared machine.
  await load(gantryUrl, { connections: 8, seconds: 1, body: BODY });
  await load(bareUrl, { connections: 8, seconds: 1, body: BODY });
  const rounds = quick() ? 1 : 3;
  const ourRounds: Measured[] = [];
  const peerRounds: Measured[] = [];
  for (let i = 0; i < rounds; i++) {
    ourRounds.push(await measure(gantry, gantryUrl, seconds));
    peerRounds.push(await measure(bare, bareUrl, seconds));
  }
  const ours = median(ourRounds);
  const peer = median(peerRounds);
  await gantry.stop();
  await bare.stop();
  await db.drop();
  if (ours.errors + ours.non2xx + peer.errors + peer.non2xx > 0) throw new Error("requests failed during the HTTP benchmark");
  const ratio = ours.requestsPerSecond / peer.requestsPerSecond;
  const rows = [
    { measure: "cold start, embedded, first run (ms)", gantry: starts.embeddedFirstMs.toFixed(0), peer: "", ratio: "" },
    { measure: "cold start, embedded, restart (ms)", gantry: starts.embeddedRestartMs.toFixed(0), peer: "", ratio: "" },
    { measure: "cold start, PostgreSQL, first run (ms)", gantry: starts.postgresFirstMs.toFixed(0), peer: "", ratio: "" },
    { measure: "cold start, PostgreSQL, restart (ms)", gantry: starts.postgresRestartMs.toFixed(0), peer: "", ratio: "" },
    {
      measure: "{ __typename } req/s, 32 conns (peer: bare Apollo)",
      gantry: ours.requestsPerSecond.toFixed(0),
      peer: peer.requestsPerSecond.toFixed(0),
      ratio: `${(ratio * 100).toFixed(0)} %`,
    },
    { measure: "{ __typename } p99 (ms)", gantry: ours.p99Ms, peer: peer.p99Ms, ratio: "" },
    {
      measure: "{ __typename } server CPU per request (µs)",
      gantry: ours.cpuUsPerRequest.toFixed(0),
      peer: peer.cpuUsPerRequest.toFixed(0),
      ratio: `${((peer.cpuUsPerRequest / ours.cpuUsPerRequest) * 100).toFixed(0)} %`,
    },
  ];
  return {
    rows,
    figures: {
      ...starts,
      gantryRps: ours.requestsPerSecond,
      bareApolloRps: peer.requestsPerSecond,
      ratio,
      gantryCpuUsPerRequest: ours.cpuUsPerRequest,
      bareApolloCpuUsPerRequest: peer.cpuUsPerRequest,
    },
  };
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const { rows } = await run();
  process.stdout.write(table(rows) + "\n");
}
