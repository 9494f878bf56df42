/**
 * The `runner` role: claims QUEUED runs (a lease fenced by attempt, `SKIP LOCKED` across
 * replicas), runs each tap into staging and reports it through the signed webhook. Up to
 * `GANTRY_RUNNER_CONCURRENCY` runs at once. Woken by `RUNNER_CHANNEL` when the scheduler queues
 * runs, and by a safety poll.
 */
import { randomUUID } from "node:crypto";
import os from "node:os";
import type { AppServices } from "../app-services.js";
import { systemEm } from "../db/orm.js";
import { appendEvents } from "../events/index.js";
import { runEvent, runFromRow } from "../connectors/runs.js";
import { RUNNER_CHANNEL } from "../connectors/types.js";
import type { RunningRole } from "../roles.js";
import { executeRun, type RunnerDeps } from "./execute-run.js";
import { claimRuns } from "./sql/claimRuns.js";
import { loadTapRegistryFile, TapRegistry } from "./tap-registry.js";

export interface RunnerOptions {
  pollMs?: number;
}

export class Runner implements RunningRole {
  private readonly deps: RunnerDeps;
  private readonly stopping = new AbortController();
  private readonly active = new Set<Promise<void>>();
  private claiming: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly app: Pick<AppServices, "orm" | "config" | "log" | "events">,
    private readonly options: RunnerOptions = {},
  ) {
    const registry = new TapRegistry(app.config.tapsFile ? loadTapRegistryFile(app.config.tapsFile) : {});
    const runnerId = `runner-${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.deps = { orm: app.orm, config: app.config, log: app.log.child({ role: "runner", runner: runnerId }), registry, runnerId };
  }

  start(): this {
    this.unsubscribe = this.app.events.onWake(RUNNER_CHANNEL, () => this.kick());
    this.timer = setInterval(() => this.kick(), this.options.pollMs ?? 2_000);
    this.timer.unref();
    this.kick();
    return this;
  }

  kick(): void {
    if (this.stopping.signal.aborted) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = this.claimLoop().finally(() => (this.claiming = undefined));
  }

  private async claimLoop(): Promise<void> {
    do {
      this.again = false;
      // The embedded database serves a few connections on one backend: one sync at a time there.
      const concurrency = this.app.config.databaseUrl ? this.app.config.runnerConcurrency : 1;
      const free = concurrency - this.active.size;
      if (free <= 0) return;
      try {
        const claimed = await this.claim(free);
        for (const run of claimed) this.track(run);
        if (claimed.length === free) this.again = true;
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        this.deps.log.error({ err }, "claiming runs failed");
      }
    } while (this.again && !this.stopping.signal.aborted);
  }

  private async claim(limit: number): Promise<Array<{ runId: string; connectorId: string; attempt: number }>> {
    return systemEm(this.app.orm).transactional(async (tem) => {
      const rows = await claimRuns(tem, this.deps.runnerId, limit, this.app.config.runnerLeaseMs);
      if (rows.length > 0) await appendEvents(tem, rows.map((r) => runEvent(runFromRow(r))));
      return rows.map((r) => ({ runId: r.id, connectorId: r.connector_id, attempt: r.attempt }));
    });
  }

  private track(run: { runId: string; connectorId: string; attempt: number }): void {
    const done = executeRun(this.deps, run, this.stopping.signal)
      .catch((err: unknown) => this.deps.log.error({ err, runId: run.runId }, "run execution failed"))
      .finally(() => {
        this.active.delete(done);
        this.kick();
      });
    this.active.add(done);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.claiming;
    await Promise.allSettled([...this.active]);
  }
}

export async function startRunnerRole(app: AppServices): Promise<RunningRole> {
  return new Runner(app).start();
}
