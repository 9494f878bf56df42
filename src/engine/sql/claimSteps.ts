import type { EntityManager } from "../../db/orm.js";
import type { JsonObject, StepStatus } from "../types.js";
import { exec } from "./exec.js";
import { preparable } from "../../db/sql.js";
import type { Statement } from "./round.js";
import { STEP_COLUMNS, type StepRow, type WorkflowRow } from "./rows.js";

export interface ClaimedStep extends StepRow {
  /** Status before the claim (the claim turns PENDING into RUNNING). */
  prev_status: StepStatus;
  /** The step was held by a worker whose lease expired (crash or stall): a new attempt. */
  reclaimed: boolean;
  workflow: WorkflowRow;
  /** Redacted outputs of the earlier completed steps, by name. */
  outputs: Record<string, JsonObject>;
  /** The claiming transaction's `now()`. */
  at?: Date;
}

/**
 * Claims up to `limit` due steps in one statement (`FOR UPDATE SKIP LOCKED`, so concurrent
 * workers never claim the same row) and leases them to `owner` for `leaseMs`. A claimed step's
 * `due_at` is its lease end, so if this worker dies the step becomes due again by itself.
 * Starting an execution (PENDING, COMPENSATING) or taking over an expired lease is a new attempt.
 */
export async function claimSteps(em: EntityManager, owner: string, limit: number, leaseMs: number): Promise<ClaimedStep[]> {
  return parseClaimed(await exec(em, ...claimStatement(owner, limit, leaseMs)));
}

/**
 * What a claim sets on a due step (`due`: its status before, and whether its lease had expired),
 * here and in the one-message round (commitRound.ts). Parameters: lease ms, lease ms, owner.
 */
export const CLAIM_SET = `attempt = case when due.reclaimed or s.status in ('PENDING', 'COMPENSATING') then s.attempt + 1 else s.attempt end,
       status = case when s.status = 'PENDING' then 'RUNNING' else s.status end,
       started_at = case when s.status = 'PENDING' then now() else s.started_at end,
       leased_until = now() + ? * interval '1 millisecond',
       due_at = now() + ? * interval '1 millisecond',
       lease_owner = ?,
       updated_at = now()`;

/** Prepared once per connection in worker rounds (round.ts). */
const CLAIM = preparable(
  `with due as (
       select id, status as prev_status, lease_owner is not null as reclaimed
         from workflow_step
        where due_at <= now()
        order by due_at
        limit ?
        for update skip locked
     )
     update workflow_step s set
       ${CLAIM_SET}
     from due
     where s.id = due.id
     returning ${STEP_COLUMNS}, due.prev_status, due.reclaimed, now()::timestamptz(3) as at,
       (select to_jsonb(w) from workflow w where w.id = s.workflow_id) as w,
       (select jsonb_object_agg(p.name, coalesce(p.output, '{}'::jsonb)) from workflow_step p
         where p.workflow_id = s.workflow_id and p.position < s.position and p.status = 'COMPLETED') as outputs`,
);

/** The statement of {@link claimSteps} (to send along with others), and its rows' parser. */
export function claimStatement(owner: string, limit: number, leaseMs: number): Statement {
  return [
    CLAIM,
    [limit, leaseMs, leaseMs, owner],
  ];
}

export function parseClaimed(raw: unknown[]): ClaimedStep[] {
  const rows = raw as (StepRow & { prev_status: StepStatus; reclaimed: boolean; w: WorkflowRow; outputs: Record<string, JsonObject> | null })[];
  return rows.map(({ w, outputs, ...row }) => ({
    ...row,
    workflow: { ...w, created_at: new Date(w.created_at), updated_at: new Date(w.updated_at), completed_at: w.completed_at ? new Date(w.completed_at) : null },
    outputs: outputs ?? {},
  }));
}
