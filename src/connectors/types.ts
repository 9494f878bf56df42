/**
 * Connectors domain. Glossary:
 * - connector: a tenant's Singer tap on a cron schedule, loading into `<namespace>.<table>`.
 * - run: one sync of a connector (QUEUED → RUNNING → LOADING → COMPLETED | FAILED | CANCELLED);
 *   at most one is in flight per connector.
 * - report: the runner's signed webhook call that finishes a run (rows synced, Singer STATE).
 * - tap state: the Singer STATE committed after a run's rows were loaded (incremental bookmarks).
 * - breaker: 3 consecutive failed runs put a connector in ERROR and stop its schedule.
 * - scheduler: the role that turns due connectors into QUEUED runs, and reaps runs whose report
 *   never arrived.
 */
import { ConnectorType } from "../../entities/connector/connector.entity.js";

/** Topic of a connector's events (run changes): `connector:<id>`. */
export const connectorTopic = (connectorId: string) => `connector:${connectorId}`;
/** Wake-up channel of the scheduler role (a trigger, a resume, a finished run). */
export const SCHEDULER_CHANNEL = "gantry_connector_scheduler";
/** Wake-up channel of the runner role: runs were queued. */
export const RUNNER_CHANNEL = "gantry_connector_runner";

/** Consecutive failed runs that open the breaker (Fivetran alerts after three as well). */
export const BREAKER_THRESHOLD = 3;

export interface RegisterConnectorInput {
  sourceSystem: string;
  tapName: string;
  connectorType?: ConnectorType | null;
  destinationCatalog?: string | null;
  destinationTable: string;
  syncSchedule?: string | null;
  tapVersion?: string | null;
  meltanoEnvironment?: string | null;
  config?: Record<string, unknown> | null;
  configEncrypted?: string | null;
}

export interface FieldMappingInput {
  stream: string;
  sourceField: string;
  destinationColumn: string;
  transform?: string | null;
  dataType?: string | null;
  isKey?: boolean | null;
}

export const RUNS_DEFAULT_LIMIT = 50;
export const RUNS_MAX_LIMIT = 200;
