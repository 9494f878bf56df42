/** The `worker` role: one engine worker per process, sized by configuration. */
import type { AppServices } from "../app-services.js";
import type { RunningRole } from "../roles.js";
import { startWorker } from "./worker.js";

export async function startWorkerRole(app: AppServices): Promise<RunningRole> {
  const worker = startWorker(app, {
    concurrency: app.config.workerConcurrency,
    prefetch: app.config.workerPrefetch,
    leaseMs: app.config.workerLeaseMs,
    pollMs: app.config.workerPollMs,
  });
  return { stop: () => worker.stop() };
}
