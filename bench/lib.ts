/** Helpers shared by the benchmark scenarios: child processes, databases, autocannon, tables. */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import autocannon from "autocannon";

const STOP_GRACE_MS = 3000;

/** Gantry's entry point in dist/ (the scenarios run compiled, next to it). */
export const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/main.js");

export const ADMIN_URL = process.env.DATABASE_URL ?? "postgresql://root@127.0.0.1:5432/postgres";

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface BenchDb {
  url: string;
  /** A small pool on the database (connects on first use), ended by `drop`. */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** A fresh database for one scenario (empty, or with Gantry's migrations when `migrate`). */
export async function freshDatabase(prefix: string, options: { migrate?: boolean } = {}): Promise<BenchDb> {
  const name = `gantry_bench_${prefix}_${process.pid}_${Date.now().toString(36)}`;
  await withAdmin((c) => c.query(`create database "${name}"`));
  const url = databaseUrl(name);
  if (options.migrate) {
    // Imported here so scenarios that never migrate do not load the ORM.
    await import("reflect-metadata");
    const { initOrm, migrate } = await import("../src/db/orm.js");
    const orm = await initOrm({ clientUrl: url, poolMax: 2 });
    await migrate(orm);
    await orm.close(true);
  }
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      await withAdmin(async (c) => void (await c.query(`drop database if exists "${name}" with (force)`)));
    },
  };
}

export interface Child {
  process: ChildProcess;
  /** Milliseconds from spawn until `ready` matched. */
  readyMs: number;
  match: RegExpExecArray;
  stop(): Promise<void>;
}

/**
 * Spawns `node <script>` and resolves when its output matches `ready`. Gantry's defaults for a
 * bench child (PORT 0, LOG_LEVEL warn, a throw-away GANTRY_DATA_DIR removed on stop) apply unless
 * `env` sets them.
 */
export function startChild(
  script: string,
  env: Record<string, string | undefined>,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<Child> {
  const started = performance.now();
  const dataDir = env.GANTRY_DATA_DIR === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), "gantry-bench-")) : undefined;
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { ...process.env, PORT: "0", LOG_LEVEL: "warn", GANTRY_DATA_DIR: dataDir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const removeDataDir = () => dataDir && fs.rmSync(dataDir, { recursive: true, force: true });
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) {
        child.stdout!.off("data", onData);
        child.stdout!.resume();
        child.stderr!.resume();
        resolve({
          process: child,
          readyMs: performance.now() - started,
          match,
          stop: () =>
            new Promise((done) => {
              const finish = () => {
                removeDataDir();
                done();
              };
              if (child.exitCode !== null || child.signalCode !== null) return finish();
              child.once("exit", finish);
              child.kill("SIGTERM");
              // Gantry's own shutdown sometimes sits out its 15 s limit (reported, issue 7 notes);
              // a benchmark does not need a graceful stop, so it says so and kills the child.
              setTimeout(() => {
                if (child.exitCode !== null || child.signalCode !== null) return;
                process.stderr.write(`bench: ${path.basename(script)} did not exit within ${STOP_GRACE_MS} ms of SIGTERM; killing it\n`);
                child.kill("SIGKILL");
              }, STOP_GRACE_MS).unref();
            }),
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    child.once("exit", (code) => {
      removeDataDir();
      reject(new Error(`${script} exited with ${code}:\n${output.slice(-2000)}`));
    });
  });
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

export async function load(
  url: string,
  options: { connections: number; seconds: number; body?: string; headers?: Record<string, string>; method?: "GET" | "POST" },
): Promise<LoadResult> {
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    method: options.method ?? "POST",
    body: options.body,
    headers: { "content-type": "application/json", ...options.headers },
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux; 0 elsewhere). */
export function cpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return "";
  const keys = Object.keys(rows[0]!);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (values: string[]) => "| " + values.map((v, i) => v.padEnd(widths[i]!)).join(" | ") + " |";
  return [line(keys), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(keys.map((k) => String(r[k]))))].join("\n");
}

export function quick(): boolean {
  return process.argv.includes("--quick");
}
