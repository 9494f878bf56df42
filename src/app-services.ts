/**
 * The long-lived parts of a running Gantry process, handed to resolvers through the context and
 * to the REST shim and roles directly. Domains add their services here as they land.
 */
import type { Logger } from "pino";
import type { Config } from "./config.js";
import type { Orm } from "./db/orm.js";
import type { Authenticator } from "./auth/authenticator.js";
import type { TenantAccessCache } from "./tenants/access.js";
import type { Metrics } from "./http/metrics.js";
import type { EventBus } from "./events/index.js";
import type { ServiceCatalogue } from "./services/catalogue.js";

export interface AppServices {
  config: Config;
  log: Logger;
  orm: Orm;
  auth: Authenticator;
  tenantAccess: TenantAccessCache;
  metrics: Metrics;
  events: EventBus;
  serviceCatalogue: ServiceCatalogue;
}
