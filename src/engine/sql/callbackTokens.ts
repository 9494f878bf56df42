import type { EntityManager } from "../../db/orm.js";
import { exec } from "./exec.js";

/**
 * Stores a callback token's hash for one step attempt, fenced by the worker's lease: a worker
 * that lost its lease cannot issue a token. Earlier tokens of the step stop working (attempt).
 */
export async function insertCallbackToken(
  em: EntityManager,
  token: { hash: string; stepId: string; attempt: number; leaseOwner: string; expiresAt: Date },
): Promise<boolean> {
  const rows = await exec<{ token_hash: string }>(
    em,
    `insert into workflow_callback_token (token_hash, step_id, attempt, expires_at)
     select ?, s.id, s.attempt, ? from workflow_step s
      where s.id = ? and s.attempt = ? and s.lease_owner = ? and s.status = 'RUNNING'
     returning token_hash`,
    [token.hash, token.expiresAt.toISOString(), token.stepId, token.attempt, token.leaseOwner],
  );
  return rows.length === 1;
}

export type TokenUse =
  | { ok: true; stepId: string; attempt: number }
  | { ok: false; reason: "unknown" | "used" | "expired" | "superseded" };

/** Marks a token used (once); tells why not when it cannot be. Locks nothing else. */
export async function useCallbackToken(em: EntityManager, hash: string): Promise<TokenUse> {
  const [used] = await exec<{ step_id: string; attempt: number }>(
    em,
    `update workflow_callback_token t set used_at = now()
       from workflow_step s
      where t.token_hash = ? and t.used_at is null and t.expires_at > now()
        and s.id = t.step_id and s.attempt = t.attempt
      returning t.step_id, t.attempt`,
    [hash],
  );
  if (used) return { ok: true, stepId: used.step_id, attempt: used.attempt };
  const [row] = await exec<{ used_at: Date | null; expired: boolean; current: boolean }>(
    em,
    `select t.used_at, t.expires_at <= now() as expired, s.attempt = t.attempt as current
       from workflow_callback_token t join workflow_step s on s.id = t.step_id where t.token_hash = ?`,
    [hash],
  );
  if (!row) return { ok: false, reason: "unknown" };
  if (row.used_at) return { ok: false, reason: "used" };
  if (row.expired) return { ok: false, reason: "expired" };
  return { ok: false, reason: "superseded" };
}
