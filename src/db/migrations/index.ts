/**
 * Every migration, in order. Listed explicitly (not globbed) so the same list works from the
 * TypeScript sources under vitest and from `dist/` in production. Add new ones at the end with
 * a later timestamp in the name.
 */
import type { MigrationObject } from "@mikro-orm/core";
import { Migration20261123000000_foundation } from "./Migration20261123000000_foundation.js";
import { Migration20261123000500_events } from "./Migration20261123000500_events.js";
import { Migration20261123010000_engine } from "./Migration20261123010000_engine.js";
import { Migration20261123020000_connectors } from "./Migration20261123020000_connectors.js";
import { Migration20261123030000_tenants } from "./Migration20261123030000_tenants.js";
import { Migration20261123040000_runner } from "./Migration20261123040000_runner.js";
import { Migration20261123050000_engine_queue_index } from "./Migration20261123050000_engine_queue_index.js";

export const MIGRATIONS: MigrationObject[] = [
  { name: "Migration20261123000000_foundation", class: Migration20261123000000_foundation },
  { name: "Migration20261123000500_events", class: Migration20261123000500_events },
  { name: "Migration20261123010000_engine", class: Migration20261123010000_engine },
  { name: "Migration20261123020000_connectors", class: Migration20261123020000_connectors },
  { name: "Migration20261123030000_tenants", class: Migration20261123030000_tenants },
  { name: "Migration20261123040000_runner", class: Migration20261123040000_runner },
  { name: "Migration20261123050000_engine_queue_index", class: Migration20261123050000_engine_queue_index },
];
