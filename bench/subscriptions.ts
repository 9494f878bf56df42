/**
 * Subscriptions (issue 7): 1,000 and then 10,000 graphql-ws subscribers on one Gantry api process
 * while 1,000 step events/s are committed, against a bare `ws` server sending the same payloads
 * to the same number of clients at the same rate, in the same run.
 *
 * - Gantry: api role only, fresh migrated database. 1,000 workflows; subscriber i watches
 *   workflow i mod 1,000 with `workflowStepChanged` (the dashboard's workflow view), so each event
 *   fans out to subscribers / 1,000 clients.
 * - Events: a separate process (subscriptions-append.ts) commits them through `appendEvents`,
 *   the engine's path, 10 per transaction every 10 ms, and reports each sequence's commit time.
 * - Clients: worker threads of this process (subscriptions-clients.ts), one graphql-ws client and
 *   socket per subscriber, recording each sequence's arrival time. Every clock is CLOCK_MONOTONIC.
 * - Checked: every subscriber receives every event of its workflow committed during the run,
 *   in order, once (dropped, duplicated and out-of-order must all be 0).
 *   node dist/bench/subscriptions.js [--quick]
 *   BENCH_SUBSCRIBERS=10000: only that size; BENCH_CPU_PROF=<dir>: --cpu-prof the Gantry process.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { cpuMs, freshDatabase, MAIN, quick, startChild, table, type Child } from "./lib.js";
import type { ScenarioResult } from "./run.js";
import type { RunResult } from "./subscriptions-payload.js";
import type { ClientsData, Progress, SubscriberReport } from "./subscriptions-clients.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const READY = /GraphQL \(HTTP \+ graphql-ws\): (http:\/\/\S+)/;
const SUBSCRIBERS_PER_THREAD = 5000;

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);
const t0 = performance.now();
/** BENCH_DEBUG=1: where a run's time goes, on stderr. */
const debug = (what: string) => process.env.BENCH_DEBUG && process.stderr.write(`[subscriptions ${((performance.now() - t0) / 1000).toFixed(1)} s] ${what}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A forked helper process spoken to by request/answer over IPC. */
class Ipc {
  private waiting: ((message: { type: string }) => void)[] = [];
  private constructor(readonly child: ChildProcess) {
    child.on("message", (message: { type: string; message?: string }) => this.waiting.shift()?.(message));
  }

  static async fork(script: string, args: string[] = []): Promise<{ ipc: Ipc; ready: Record<string, unknown> }> {
    const child = fork(script, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const ipc = new Ipc(child);
    const ready = await ipc.answer<Record<string, unknown>>();
    return { ipc, ready };
  }

  private answer<T>(): Promise<T> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`helper exited with ${code}`));
      this.child.once("exit", onExit);
      this.waiting.push((message) => {
        this.child.off("exit", onExit);
        if (message.type === "error") reject(new Error((message as { message?: string }).message));
        else resolve(message as T);
      });
    });
  }

  ask<T>(message: Record<string, unknown>): Promise<T> {
    const answer = this.answer<T>();
    this.child.send(message);
    return answer;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.send({ type: "stop" });
    await Promise.race([exited, sleep(5000).then(() => this.child.kill())]);
  }
}

/** The client threads of one phase. */
class Clients {
  private readonly latest: Progress[];
  private constructor(private readonly workers: Worker[]) {
    this.latest = workers.map(() => ({ type: "progress", connected: 0, live: 0, received: 0, receivedAbove: 0, errors: 0 }));
    workers.forEach((w, i) =>
      w.on("message", (m: { type: string }) => {
        if (m.type === "progress") this.latest[i] = m as Progress;
      }),
    );
  }

  static start(url: string, apiKey: string, workflowIds: string[], subscribers: number): Clients {
    const threads = Math.max(1, Math.ceil(subscribers / SUBSCRIBERS_PER_THREAD));
    const workers = Array.from({ length: threads }, (_, t) => {
      const workflows: ClientsData["workflows"] = [];
      for (let i = t; i < subscribers; i += threads) workflows.push({ index: i % workflowIds.length, id: workflowIds[i % workflowIds.length]! });
      return new Worker(path.join(here, "subscriptions-clients.js"), { workerData: { url, apiKey, workflows } satisfies ClientsData });
    });
    return new Clients(workers);
  }

  get threads(): number {
    return this.workers.length;
  }

  total(): Progress {
    const sum = (k: "connected" | "live" | "received" | "receivedAbove" | "errors") => this.latest.reduce((n, p) => n + p[k], 0);
    return {
      type: "progress",
      connected: sum("connected"),
      live: sum("live"),
      received: sum("received"),
      receivedAbove: sum("receivedAbove"),
      errors: sum("errors"),
      firstError: this.latest.find((p) => p.firstError)?.firstError,
    };
  }

  /** From now on, progress counts only events with a sequence above `sequence`. */
  countAbove(sequence: number): void {
    for (const w of this.workers) w.postMessage({ type: "count-above", sequence });
  }

  /** Waits until `done(progress)` or `ms` pass without any change in progress. */
  async until(done: (p: Progress) => boolean, ms: number): Promise<Progress> {
    let last = "";
    let since = performance.now();
    for (;;) {
      const p = this.total();
      if (done(p)) return p;
      const key = JSON.stringify(p);
      if (key !== last) [last, since] = [key, performance.now()];
      if (performance.now() - since > ms) return p;
      await sleep(50);
    }
  }

  async reports(): Promise<SubscriberReport[]> {
    const all = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<SubscriberReport[]>((resolve) => {
            const on = (m: { type: string; subscribers?: SubscriberReport[] }) => {
              if (m.type !== "report") return;
              w.off("message", on);
              resolve(m.subscribers!);
            };
            w.on("message", on);
            w.postMessage({ type: "report" });
          }),
      ),
    );
    return all.flat();
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        const closed = new Promise<void>((resolve) => w.on("message", (m: { type: string }) => m.type === "closed" && resolve()));
        w.postMessage({ type: "close" });
        await Promise.race([closed, sleep(10_000)]);
        await w.terminate();
      }),
    );
  }
}

export interface PhaseFigures {
  subscribers: number;
  committedPerSecond: number;
  expected: number;
  delivered: number;
  deliveredPerSecond: number;
  dropped: number;
  duplicates: number;
  outOfOrder: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  /** CPU of the server process per delivered message, µs. */
  serverCpuUsPerMessage: number;
}

/** Checks every subscriber's stream against what was committed and measures the latencies. */
function analyse(subscribers: number, ran: RunResult, reports: SubscriberReport[], errors: number, serverCpuMs: number): PhaseFigures {
  const committed = new Map<number, number>();
  const byWorkflow = new Map<number, number[]>();
  ran.sequences.forEach((s, i) => {
    committed.set(s, ran.committedAt[i]!);
    const list = byWorkflow.get(ran.workflowIndex[i]!) ?? [];
    list.push(s);
    byWorkflow.set(ran.workflowIndex[i]!, list);
  });
  const latencies: number[] = [];
  let expected = 0;
  let delivered = 0;
  let dropped = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let lastArrival = 0;
  for (const r of reports) {
    const seen = new Set<number>();
    let previous = -Infinity;
    r.sequences.forEach((s, i) => {
      if (seen.has(s)) duplicates++;
      else if (s < previous) outOfOrder++;
      seen.add(s);
      previous = Math.max(previous, s);
      const at = committed.get(s);
      if (at === undefined) return; // a warm-up event
      delivered++;
      latencies.push(r.receivedAt[i]! - at);
      lastArrival = Math.max(lastArrival, r.receivedAt[i]!);
    });
    for (const s of byWorkflow.get(r.workflowIndex) ?? []) {
      expected++;
      if (!seen.has(s)) dropped++;
    }
  }
  if (reports.length !== subscribers) dropped += expected; // a subscriber went missing: count it loudly
  latencies.sort((a, b) => a - b);
  const firstCommit = Math.min(...ran.committedAt);
  return {
    subscribers,
    committedPerSecond: Math.round(ran.sequences.length / ran.seconds),
    expected,
    delivered,
    deliveredPerSecond: Math.round(delivered / ((lastArrival - firstCommit) / 1000)),
    dropped,
    duplicates,
    outOfOrder,
    p50Ms: Number(quantile(latencies, 0.5).toFixed(2)),
    p99Ms: Number(quantile(latencies, 0.99).toFixed(2)),
    maxMs: Number((latencies.at(-1) ?? NaN).toFixed(2)),
    errors,
    serverCpuUsPerMessage: Number(((serverCpuMs * 1000) / Math.max(1, delivered)).toFixed(1)),
  };
}

interface Source {
  /** Process whose CPU is the server's. */
  serverPid: number;
  events: Ipc;
}

async function phase(name: string, url: string, apiKey: string, source: Source, workflowIds: string[], subscribers: number, rate: number, seconds: number) {
  const clients = Clients.start(url, apiKey, workflowIds, subscribers);
  try {
    debug(`${name} ${subscribers}: connecting`);
    const connected = await clients.until((p) => p.connected + p.errors >= subscribers, 30_000);
    if (connected.connected < subscribers) throw new Error(`${name}: ${connected.connected}/${subscribers} connected (${connected.firstError ?? "stalled"})`);
    // Subscriptions are registered asynchronously after the subscribe message: warm-up events
    // until every subscriber has seen one of its workflow's, then it is certainly live.
    debug(`${name}: connected, warming`);
    let live = clients.total();
    for (let attempt = 0; attempt < 40 && live.live < subscribers; attempt++) {
      await source.events.ask({ type: "warm" });
      live = await clients.until((p) => p.live >= subscribers, 500);
    }
    if (live.live < subscribers) throw new Error(`${name}: only ${live.live}/${subscribers} subscribers live (${live.firstError ?? "no error"})`);
    const cpuBefore = cpuMs(source.serverPid);
    debug(`${name}: live, running`);
    const ran = await source.events.ask<RunResult>({ type: "run", rate, seconds });
    // Drain: every subscriber's share of the run's events (warm-up events, which may still be in
    // flight, have lower sequences and do not count), or 10 s without progress.
    clients.countAbove(Math.min(...ran.sequences) - 1);
    const expectedMessages = ran.sequences.length * (subscribers / workflowIds.length);
    const drained = await clients.until((p) => p.receivedAbove >= expectedMessages, 10_000);
    const serverCpu = cpuMs(source.serverPid) - cpuBefore;
    debug(`${name}: drained`);
    const reports = await clients.reports();
    return { figures: analyse(subscribers, ran, reports, drained.errors, serverCpu), threads: clients.threads, firstError: drained.firstError };
  } finally {
    await clients.close();
  }
}

export async function run(): Promise<ScenarioResult> {
  const sizes = process.env.BENCH_SUBSCRIBERS ? process.env.BENCH_SUBSCRIBERS.split(",").map(Number) : quick() ? [100] : [1000, 10_000];
  const workflows = quick() ? 50 : 1000;
  const rate = quick() ? 200 : 1000;
  const seconds = quick() ? 2 : 10;
  const apiKey = `bench-admin-${randomBytes(12).toString("hex")}`;
  const db = await freshDatabase("subs", { migrate: true });
  debug("database migrated");
  const rows: Record<string, string | number>[] = [];
  const figures: Record<string, number> = {};
  const notes: string[] = [];
  let gantry: Child | undefined;
  let appender: Ipc | undefined;
  let bare: Ipc | undefined;
  try {
    ({ ipc: appender } = await Ipc.fork(path.join(here, "subscriptions-append.js")));
    debug("appender forked");
    const { tenantId, workflowIds } = await appender.ask<{ tenantId: string; workflowIds: string[] }>({ type: "setup", url: db.url, workflows });
    debug("workflows created");
    const profileDir = process.env.BENCH_CPU_PROF;
    gantry = await startChild(
      MAIN,
      { DATABASE_URL: db.url, GANTRY_ROLES: "api", ADMIN_API_KEYS: apiKey, JWT_SECRET: randomBytes(32).toString("hex"), GANTRY_MASTER_KEY: randomBytes(32).toString("base64") },
      READY,
      [...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), ...(process.env.BENCH_GANTRY_NODE_ARGS?.split(" ").filter(Boolean) ?? [])],
    );
    debug("gantry ready");
    const gantryUrl = gantry.match[1]!.replace(/^http/, "ws");
    const started = await Ipc.fork(path.join(here, "subscriptions-bare.js"));
    bare = started.ipc;
    await bare.ask({ type: "setup", workflowIds, tenantId });
    const bareUrl = started.ready.url as string;

    for (const n of sizes) {
      const g = await phase("gantry", gantryUrl, apiKey, { serverPid: gantry.process.pid!, events: appender }, workflowIds, n, rate, seconds);
      const b = await phase("bare", bareUrl, apiKey, { serverPid: bare.child.pid!, events: bare }, workflowIds, n, rate, seconds);
      for (const [server, x] of [["gantry", g.figures], ["bare ws", b.figures]] as const) {
        rows.push({
          server,
          subscribers: x.subscribers,
          "committed/s": x.committedPerSecond,
          "delivered/s": x.deliveredPerSecond,
          "p50 ms": x.p50Ms,
          "p99 ms": x.p99Ms,
          "max ms": x.maxMs,
          "dropped": x.dropped,
          "dup/order": `${x.duplicates}/${x.outOfOrder}`,
          "server CPU µs/msg": x.serverCpuUsPerMessage,
        });
      }
      Object.assign(figures, {
        [`gantry${n}P50Ms`]: g.figures.p50Ms,
        [`gantry${n}P99Ms`]: g.figures.p99Ms,
        [`gantry${n}Dropped`]: g.figures.dropped,
        [`gantry${n}DeliveredPerSecond`]: g.figures.deliveredPerSecond,
        [`gantry${n}CpuUsPerMessage`]: g.figures.serverCpuUsPerMessage,
        [`bare${n}P50Ms`]: b.figures.p50Ms,
        [`bare${n}P99Ms`]: b.figures.p99Ms,
        [`bare${n}DeliveredPerSecond`]: b.figures.deliveredPerSecond,
        [`bare${n}CpuUsPerMessage`]: b.figures.serverCpuUsPerMessage,
      });
      figures.largest = n;
      figures.rate = rate;
      figures.gantryP99Ms = g.figures.p99Ms;
      figures.bareP99Ms = b.figures.p99Ms;
      figures.gantryDropped = g.figures.dropped;
      for (const [who, r] of [["gantry", g], ["bare", b]] as const) {
        const x = r.figures;
        // Correctness, asserted in every mode: the run fails rather than report a fast wrong answer.
        if (x.dropped || x.duplicates || x.outOfOrder || x.errors || x.delivered !== x.expected) {
          throw new Error(
            `${who}, ${n} subscribers: ${x.dropped} dropped, ${x.duplicates} duplicated, ${x.outOfOrder} out of order, ${x.errors} errors (${r.firstError ?? "-"}), ${x.delivered}/${x.expected} delivered`,
          );
        }
      }
      notes.push(`${n} subscribers: ${g.threads} client thread(s) of ${SUBSCRIBERS_PER_THREAD} sockets at most, one graphql-ws client and socket per subscriber`);
    }
    notes.push(
      `events: ${rate}/s committed through appendEvents (the engine's path) by a separate process, ${Math.round(rate / 100)} per transaction every 10 ms, ${seconds} s; ${workflows} workflows, each subscriber watches one (workflowStepChanged), so each event goes to subscribers / ${workflows} clients`,
      "latency: COMMIT returned in the writer (bare: event produced) → the graphql-ws client's `next` callback; CLOCK_MONOTONIC in every process",
      "limit: a bare `ws` server speaking graphql-ws to the same clients, sending the same `next` payloads at the same rate (one JSON.stringify per event, no database, no GraphQL execution)",
      "aim: 10,000 subscribers with p99 < 100 ms and 0 dropped",
    );
  } finally {
    debug("stopping");
    await appender?.stop();
    await bare?.stop();
    await gantry?.stop();
    await db.drop();
    debug("stopped");
  }
  return { rows, figures, notes };
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const { rows, notes } = await run();
  process.stdout.write(table(rows) + "\n" + (notes ?? []).map((n) => `- ${n}\n`).join(""));
}
