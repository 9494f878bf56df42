/**
 * Background roles (scheduler, worker, runner). Each domain registers a starter here; `api` is
 * the HTTP server and is started by `app.ts` itself. A role that is not implemented yet logs so.
 */
import type { AppServices } from "./app-services.js";
import type { Role } from "./config.js";
import { startWorkerRole } from "./engine/role.js";
import { startConnectorScheduler } from "./connectors/scheduler.js";

export interface RunningRole {
  stop(): Promise<void>;
}

export type RoleStarter = (app: AppServices) => Promise<RunningRole>;

export const ROLE_STARTERS: Partial<Record<Exclude<Role, "api">, RoleStarter>> = {
  worker: startWorkerRole,
  scheduler: startConnectorScheduler,
};
