/** Operating a connector: trigger a sync now, pause, resume. */
import type { EntityManager } from "../db/orm.js";
import { wake } from "../events/index.js";
import { DomainError } from "../errors/index.js";
import { Connector, ConnectorStatus } from "../../entities/connector/connector.entity.js";
import { getConnector } from "./registry.js";
import { nextRunAfter } from "./schedule.js";
import { SCHEDULER_CHANNEL } from "./types.js";

export interface TriggerOutcome {
  connector: Connector;
  status: "queued";
  message: string;
}

/**
 * Makes the connector due now and wakes the schedulers, so the run is queued within seconds. A
 * PAUSED connector refuses (CONFLICT), and so does one in ERROR: the breaker stopped it, and
 * `resumeConnector` is the one way to re-arm it.
 */
export async function triggerConnectorSync(em: EntityManager, id: string): Promise<TriggerOutcome> {
  return em.transactional(async (tem) => {
    const connector = await getConnector(tem, id, { lock: true });
    if (connector.status === ConnectorStatus.PAUSED) {
      throw DomainError.conflict("Connector is paused; resume it before triggering a sync", { status: connector.status });
    }
    if (connector.status === ConnectorStatus.ERROR) {
      throw DomainError.conflict("Connector is in ERROR after repeated failures; resume it first", { status: connector.status });
    }
    const now = new Date();
    connector.nextRunAt = now;
    connector.syncRequestedAt = now;
    await tem.flush();
    await wake(tem, SCHEDULER_CHANNEL);
    return {
      connector,
      status: "queued" as const,
      message: `Sync queued for connector ${connector.id}; a run starts within seconds (after the current one, if a run is in flight)`,
    };
  });
}

/** Stops scheduling (clears nextRunAt); a run already in flight finishes and reports as usual. */
export async function pauseConnector(em: EntityManager, id: string): Promise<Connector> {
  return em.transactional(async (tem) => {
    const connector = await getConnector(tem, id, { lock: true });
    connector.status = ConnectorStatus.PAUSED;
    connector.nextRunAt = null;
    connector.syncRequestedAt = null;
    await tem.flush();
    return connector;
  });
}

/**
 * Pauses every connector of a tenant (deprovisioning) inside the caller's transaction, as
 * `pauseConnector` does for one; returns how many changed.
 */
export async function pauseTenantConnectors(em: EntityManager, tenantId: string): Promise<number> {
  return em.nativeUpdate(
    Connector,
    { tenant: tenantId, status: { $ne: ConnectorStatus.PAUSED } },
    { status: ConnectorStatus.PAUSED, nextRunAt: null, syncRequestedAt: null, updatedAt: new Date() },
    { filters: false },
  );
}

/** PAUSED or ERROR → ACTIVE at the schedule's next time, failure count reset. ACTIVE stays as is. */
export async function resumeConnector(em: EntityManager, id: string): Promise<Connector> {
  return em.transactional(async (tem) => {
    const connector = await getConnector(tem, id, { lock: true });
    if (connector.status === ConnectorStatus.ACTIVE) return connector;
    connector.status = ConnectorStatus.ACTIVE;
    connector.consecutiveFailures = 0;
    connector.nextRunAt = nextRunAfter(connector.syncSchedule);
    await tem.flush();
    return connector;
  });
}
