/**
 * Whether a tenant's credentials are honoured: it exists and is not DEPROVISIONED. Called on
 * every tenant-authenticated request, so answers are cached for a second; `forget` drops a
 * tenant's entries at once in this process (deprovision), other replicas catch up within the TTL.
 * Tenant API keys (`gtk_…`, issued by the pipeline) resolve to their tenant the same way.
 */
import type { Orm } from "../db/orm.js";
import { systemEm } from "../db/orm.js";
import type { TenantAccess } from "../auth/authenticator.js";
import { sha256Hex } from "../crypto/index.js";
import { TENANT_KEY_PREFIX, tenantIdForApiKey } from "./credentials.js";

const TTL_MS = 1000;
const MAX_ENTRIES = 10_000;

export class TenantAccessCache implements TenantAccess {
  private readonly cache = new Map<string, { active: boolean; at: number }>();
  /** By SHA-256 of the key (never the key itself). */
  private readonly keys = new Map<string, { tenantId: string | null; at: number }>();

  constructor(private readonly orm: Orm) {}

  async isTenantActive(tenantId: string): Promise<boolean> {
    const hit = this.cache.get(tenantId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.active;
    const rows = await this.orm.em
      .getConnection()
      .execute<{ provisioning_state: string }[]>(`select provisioning_state from tenant where id = ?`, [tenantId]);
    const active = rows.length === 1 && rows[0]!.provisioning_state !== "DEPROVISIONED";
    if (this.cache.size > MAX_ENTRIES) this.cache.clear();
    this.cache.set(tenantId, { active, at: Date.now() });
    return active;
  }

  async tenantForApiKey(apiKey: string): Promise<string | null> {
    if (!apiKey.startsWith(TENANT_KEY_PREFIX)) return null;
    const hash = sha256Hex(apiKey);
    const hit = this.keys.get(hash);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.tenantId;
    const tenantId = await tenantIdForApiKey(systemEm(this.orm), apiKey);
    if (this.keys.size > MAX_ENTRIES) this.keys.clear();
    this.keys.set(hash, { tenantId, at: Date.now() });
    return tenantId;
  }

  forget(tenantId: string): void {
    this.cache.delete(tenantId);
    for (const [hash, entry] of this.keys) if (entry.tenantId === tenantId) this.keys.delete(hash);
  }
}
