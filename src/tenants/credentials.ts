/**
 * Tenant API credentials (`gtk_…`). Issued by step 7; stored as SHA-256 for authentication, and
 * as an AES-256-GCM envelope (additional data: the key's id) only until an admin picks the key up
 * once with `tenantCredentials(slug)`, which returns the plaintext and erases the envelope in the
 * same transaction. A lost key is not recoverable: the data at rest never holds it again.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "../db/orm.js";
import { decryptSecret, encryptSecret, randomToken, sha256Hex } from "../crypto/index.js";
import { DomainError } from "../errors/index.js";
import { getTenantBySlug } from "./queries.js";

export const TENANT_KEY_PREFIX = "gtk_";
const DISPLAY_CHARS = TENANT_KEY_PREFIX.length + 8;

export interface IssuedKey {
  keyId: string;
  keyPrefix: string;
}

/** Issues the tenant's key unless it has an unrevoked one already (idempotent). */
export async function issueTenantApiKey(em: EntityManager, masterKey: Buffer, tenantId: string): Promise<IssuedKey> {
  await em.execute(`select pg_advisory_xact_lock(hashtext(?))`, [`gantry:apikey:${tenantId}`]);
  const existing = await em.execute<{ id: string; key_prefix: string }[]>(
    `select id, key_prefix from tenant_api_key where tenant_id = ? and revoked_at is null order by created_at limit 1`,
    [tenantId],
  );
  if (existing[0]) return { keyId: existing[0].id, keyPrefix: existing[0].key_prefix };
  const keyId = randomUUID();
  const key = randomToken(32, TENANT_KEY_PREFIX);
  const keyPrefix = key.slice(0, DISPLAY_CHARS);
  await em.execute(
    `insert into tenant_api_key (id, tenant_id, key_hash, key_prefix, pickup_envelope) values (?, ?, ?, ?, ?)`,
    [keyId, tenantId, sha256Hex(key), keyPrefix, encryptSecret(masterKey, key, keyId)],
  );
  return { keyId, keyPrefix };
}

export interface PickedUpCredentials {
  tenantId: string;
  slug: string;
  apiKey: string;
  keyPrefix: string;
  createdAt: Date;
}

/**
 * Reveals the tenant's key once. NOT_FOUND for an unknown slug; CONFLICT when there is no key to
 * pick up (not issued yet, already picked up, or revoked).
 */
export async function pickUpTenantCredentials(em: EntityManager, masterKey: Buffer, slug: string): Promise<PickedUpCredentials> {
  const tenant = await getTenantBySlug(em, slug);
  return em.transactional(async (tem) => {
    const rows = await tem.execute<{ id: string; key_prefix: string; pickup_envelope: string; created_at: Date }[]>(
      `update tenant_api_key k set pickup_envelope = null, picked_up_at = now()
         from (select id, pickup_envelope from tenant_api_key
                where tenant_id = ? and revoked_at is null and pickup_envelope is not null
                order by created_at limit 1 for update) old
        where k.id = old.id
        returning k.id, k.key_prefix, old.pickup_envelope, k.created_at`,
      [tenant.id],
    );
    const row = rows[0];
    if (!row) {
      throw DomainError.conflict(`Tenant "${slug}" has no credentials to pick up (not issued yet, already picked up, or revoked)`);
    }
    return {
      tenantId: tenant.id,
      slug: tenant.slug,
      apiKey: decryptSecret(masterKey, row.pickup_envelope, row.id),
      keyPrefix: row.key_prefix,
      createdAt: new Date(row.created_at),
    };
  });
}

/** The tenant a key belongs to, if the key is unrevoked and the tenant not deprovisioned. */
export async function tenantIdForApiKey(em: EntityManager, apiKey: string): Promise<string | null> {
  if (!apiKey.startsWith(TENANT_KEY_PREFIX)) return null;
  const rows = await em.execute<{ tenant_id: string }[]>(
    `select k.tenant_id from tenant_api_key k join tenant t on t.id = k.tenant_id
      where k.key_hash = ? and k.revoked_at is null and t.provisioning_state <> 'DEPROVISIONED'`,
    [sha256Hex(apiKey)],
  );
  return rows[0]?.tenant_id ?? null;
}

/** Revokes every key of the tenant and erases any envelope not picked up. Returns how many. */
export async function revokeTenantApiKeys(em: EntityManager, tenantId: string): Promise<number> {
  const rows = await em.execute<{ id: string }[]>(
    `update tenant_api_key set revoked_at = now(), pickup_envelope = null
      where tenant_id = ? and revoked_at is null returning id`,
    [tenantId],
  );
  return rows.length;
}
