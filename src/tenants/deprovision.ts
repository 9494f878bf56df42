/**
 * Deprovisioning: a soft deactivation. The tenant becomes DEPROVISIONED (its JWTs are refused by
 * the authenticator's tenant check), its API keys are revoked, its connectors paused; its schemas,
 * catalog, namespace and history are kept. Refused (CONFLICT) while the pipeline is still running,
 * so the projection can never flip it back; idempotent on a tenant already deprovisioned.
 */
import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "../db/orm.js";
import { Tenant, ProvisioningState } from "../../entities/tenant/tenant.entity.js";
import { DomainError } from "../errors/index.js";
import { appendEvents } from "../events/index.js";
import { validateSlug } from "./slug.js";
import { revokeTenantApiKeys } from "./credentials.js";
import { TenantEventType, tenantEvent } from "./events.js";
import { pauseTenantConnectors } from "../connectors/operations.js";

export interface DeprovisionOutcome {
  tenant: Tenant;
  revokedKeys: number;
  pausedConnectors: number;
  /** False when the tenant was deprovisioned already (nothing changed). */
  changed: boolean;
}

export async function deprovisionTenant(em: EntityManager, slug: string): Promise<DeprovisionOutcome> {
  validateSlug(slug);
  return em.transactional(async (tem) => {
    const tenant = await tem.findOne(Tenant, { slug }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!tenant) throw DomainError.notFound("Tenant", slug);
    if (tenant.provisioningState === ProvisioningState.DEPROVISIONED) {
      return { tenant, revokedKeys: 0, pausedConnectors: 0, changed: false };
    }
    if (tenant.provisioningState === ProvisioningState.PROVISIONING) {
      throw DomainError.conflict(`Tenant "${slug}" is still provisioning; deprovision it once its pipeline has finished or failed`);
    }
    tenant.provisioningState = ProvisioningState.DEPROVISIONED;
    tenant.updatedAt = new Date();
    await tem.flush();
    const revokedKeys = await revokeTenantApiKeys(tem, tenant.id);
    const pausedConnectors = await pauseTenantConnectors(tem, tenant.id);
    await appendEvents(tem, [tenantEvent(tenant, TenantEventType.DEPROVISIONED)]);
    return { tenant, revokedKeys, pausedConnectors, changed: true };
  });
}
