/**
 * Whether a tenant's credentials are honoured: it exists and is not DEPROVISIONED. Called on
 * every tenant-authenticated request, so answers are cached for a second; `forget` drops an
 * entry at once in this process (deprovision), other replicas catch up within the TTL.
 */
import type { Orm } from "../db/orm.js";
import type { TenantAccess } from "../auth/authenticator.js";

const TTL_MS = 1000;

export class TenantAccessCache implements TenantAccess {
  private readonly cache = new Map<string, { active: boolean; at: number }>();

  constructor(private readonly orm: Orm) {}

  async isTenantActive(tenantId: string): Promise<boolean> {
    const hit = this.cache.get(tenantId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.active;
    const rows = await this.orm.em
      .getConnection()
      .execute<{ provisioning_state: string }[]>(`select provisioning_state from tenant where id = ?`, [tenantId]);
    const active = rows.length === 1 && rows[0]!.provisioning_state !== "DEPROVISIONED";
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(tenantId, { active, at: Date.now() });
    return active;
  }

  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }
}
