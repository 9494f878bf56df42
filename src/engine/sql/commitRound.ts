/**
 * A worker round in one statement, sent with COMMIT in one message: the results written (fenced),
 * each advancing workflow's next step leased to the worker at once (eager continuation), due steps
 * claimed for the slots left, the workflow rows moved on, and the events appended with their
 * snapshots composed by the server.
 *
 * The general path (transitions.ts) needs the rows in JavaScript to build the workflow rows and
 * event payloads, so its round is two messages or more with JavaScript between them. Here the
 * server composes what JavaScript would have, in the order it would have (the transitions' own
 * events, then `workflow.completed`/`workflow.failed`, then `step.started` of continuations and
 * claims), and the round costs one round trip. transitions.ts decides when it applies: no
 * compensation, no written step of a workflow with a projection hook; the claim here leaves such
 * workflows to the general path (below).
 */
import { EVENT_LOCK_KEY } from "../../events/index.js";
import { EVENTS_CHANNEL } from "../../events/types.js";
import { preparable } from "../../db/sql.js";
import { WORKFLOW_TOPIC_PREFIX, type JsonObject } from "../types.js";
import type { Statement } from "./round.js";
import { stepSnapshotSql, workflowSnapshotSql } from "./rows.js";
import { CLAIM_SET, parseClaimed, type ClaimedStep } from "./claimSteps.js";
import { FINAL } from "./updateWorkflows.js";
import { COLUMNS, parseWritten, WRITE_CTES, writeParams, writtenRows, type StepWrite, type WrittenSteps } from "./writeSteps.js";

/** What a written step does to its workflow, as transitions.ts's `Consequence` (the kinds allowed here). */
export type RoundOutcome = { kind: "advance" } | { kind: "wait" } | { kind: "fail"; error: string } | { kind: "none" };

export interface RoundWrite extends StepWrite {
  outcome: RoundOutcome;
  /** The step's own events, in order. */
  events: { type: string; detail?: JsonObject }[];
}

const detailOf = (value: string) => `case when ${value} is null then '{}'::jsonb else jsonb_build_object('detail', ${value}) end`;

const NO_STEP = COLUMNS.split(",").map(() => "null").join(", ");

// `due`/`claimed`: the claim of due steps (claimSteps.ts), for the slots the continuations left,
// in the same statement: it cannot see the steps this statement writes or makes due (one
// snapshot), so it excludes the written ones by id, and continuations are leased in `next`.
// Workflows with a projection hook are left to the general path (a hook runs in JavaScript before
// COMMIT); `hooked` says when one of them is among the first due steps (twice as many as the
// claim could take: the window the claim drew from, and bounded, since due times tie by the
// hundred when workflows are started in a batch), so the worker's next claim takes the general
// path and such a step waits one round or so.
//
// One row per workflow in `changes`: a failure outranks a wait, which outranks an advance, which
// outranks a start (transitions.ts applies them in the reverse order, the last one winning). An
// advancing workflow with no next step left is complete; a started one leaves PENDING.
const COMMIT_ROUND = preparable(`with ${WRITE_CTES},
     due as (
       select s.id, s.status as prev_status, s.lease_owner is not null as reclaimed, s.due_at as was_due
         from workflow_step s
        where s.due_at <= now() and s.id <> all(?::uuid[])
          and (cardinality(?::text[]) = 0 or (select h.kind from workflow h where h.id = s.workflow_id) <> all(?::text[]))
        order by s.due_at
        limit ?
        for update of s skip locked
     ), claimed as (
       update workflow_step s set
         ${CLAIM_SET}
         from due
        where s.id = any(array(select id from due)) and s.id = due.id
       returning s.*, due.prev_status, due.reclaimed, due.was_due, due.prev_status = 'PENDING' or due.reclaimed as started,
         (select to_jsonb(w) from workflow w where w.id = s.workflow_id) as w,
         (select jsonb_object_agg(p.name, coalesce(p.output, '{}'::jsonb)) from workflow_step p
           where p.workflow_id = s.workflow_id and p.position < s.position and p.status = 'COMPLETED') as outputs
     ), changes as (
       select distinct on (x.id) x.id, x.ord, x.status, x.error
         from (
           select d.workflow_id as id, d.ord, d.outcome_error as error,
                  case d.outcome when 'fail' then 'FAILED' when 'wait' then 'WAITING'
                    when 'advance' then case when exists (select 1 from next n where n.workflow_id = d.workflow_id) then 'RUNNING' else 'COMPLETED' end
                  end as status,
                  case d.outcome when 'fail' then 4 when 'wait' then 3 when 'advance' then 2 else 1 end as rank
             from written d
           union all
           select c.workflow_id, null, null, case when c.w->>'status' = 'PENDING' then 'RUNNING' end, 0
             from claimed c
            where c.started
         ) x
        order by x.id, x.rank desc, x.ord
     ), wf as (
       update workflow w set
         status = coalesce(c.status, w.status),
         error = case when c.status in ('FAILED', 'COMPLETED') then c.error else w.error end,
         completed_at = case when coalesce(c.status, w.status) in ${FINAL} then coalesce(w.completed_at, now()) else null end,
         updated_at = now()
         from changes c
        where w.id = any(array(select id from changes)) and w.id = c.id
       returning w.id, w.tenant_id, w.status, w.error, c.ord, ${workflowSnapshotSql("w")} as snapshot
     ), ev as (
       select 1 as g, d.ord as k, x.n, null::timestamptz as t, w.tenant_id, w.id as workflow_id, x.value->>'type' as type,
              jsonb_build_object('workflow', w.snapshot, 'step', ${stepSnapshotSql("d")}) || ${detailOf("x.value->'detail'")} as payload
         from written d join wf w on w.id = d.workflow_id
              cross join lateral jsonb_array_elements(d.events) with ordinality as x(value, n)
       union all
       select 2, case when w.status = 'COMPLETED' then 0 else 1 end * 1000000 + w.ord, 0, null, w.tenant_id, w.id,
              case when w.status = 'COMPLETED' then 'workflow.completed' else 'workflow.failed' end,
              jsonb_build_object('workflow', w.snapshot, 'step', null)
                || case when w.status = 'FAILED' then jsonb_build_object('detail', jsonb_build_object('error', w.error)) else '{}'::jsonb end
         from wf w join changes c on c.id = w.id
        where c.status in ('COMPLETED', 'FAILED') and w.ord is not null
       union all
       select 3, n.ord, 0, null, w.tenant_id, w.id, 'step.started', jsonb_build_object('workflow', w.snapshot, 'step', ${stepSnapshotSql("n")})
         from next n join wf w on w.id = n.workflow_id
        where n.eager
       union all
       select 4, 0, 0, c.was_due, w.tenant_id, w.id, 'step.started',
              jsonb_build_object('workflow', w.snapshot, 'step', ${stepSnapshotSql("c")})
                || case when c.reclaimed then '{"detail": {"reclaimed": true}}'::jsonb else '{}'::jsonb end
         from claimed c join wf w on w.id = c.workflow_id
        where c.started
     ), hooked as (
       select 1 from (select s.workflow_id from workflow_step s where s.due_at <= now() order by s.due_at limit 2 * ?) q
        where cardinality(?::text[]) > 0
          and (select h.kind from workflow h where h.id = q.workflow_id) = any(?::text[])
        limit 1
     ), appended as (
       insert into event (tenant_id, topic, type, payload)
       select tenant_id, '${WORKFLOW_TOPIC_PREFIX}' || workflow_id, type, payload from ev
        where (select true from pg_advisory_xact_lock(?) as l)
        order by g, k, n, t
       returning pg_notify(?, '') is null as notified
     )
     ${writtenRows(["text as prev_status", "boolean as reclaimed"])}
     union all
     select 'due', ${COLUMNS}, w, outputs, null, prev_status, reclaimed from claimed
     union all
     select 'hooked', ${NO_STEP}, null, null, null, null, null from hooked`);

/**
 * Sent before the statement, in the same message. PostgreSQL plans a prepared statement afresh
 * for its first five runs and then keeps a generic plan only if that costs no more than their
 * average; for this statement the custom plans always looked cheaper (a claim limit of 0 makes
 * the claim free), so it was planned in every round: ~1.5 ms of the server's time, more than a
 * round's whole claim. The generic plan finds every row by key (the `any(array(...))` conditions)
 * whatever the parameters. `local`: the setting ends with the transaction.
 */
export const GENERIC_PLAN: Statement = ["set local plan_cache_mode = force_generic_plan", []];

export interface RoundClaim {
  owner: string;
  leaseMs: number;
  /** Due steps to claim for the slots the continuations left (0: none). */
  limit: number;
  /** Workflow kinds with a projection hook: their steps are left to the general path. */
  hookedKinds: readonly string[];
}

/** The statement (see the file comment); its rows are read by {@link parseCommitRound}. */
export function commitRoundStatement(writes: RoundWrite[], claim: RoundClaim | undefined): Statement {
  const lease = claim ? { owner: claim.owner, leaseMs: claim.leaseMs } : undefined;
  const params = writeParams(writes, lease, (i) => {
    const w = writes[i]!;
    return { ord: i, outcome: w.outcome.kind, outcome_error: w.outcome.kind === "fail" ? w.outcome.error : null, events: w.events };
  });
  const kinds = `{${(claim?.hookedKinds ?? []).map((k) => JSON.stringify(k)).join(",")}}`;
  // Whether a hooked workflow's step is due ahead is asked only of a round that claims.
  const checked = claim && claim.limit > 0 ? kinds : "{}";
  return [
    COMMIT_ROUND,
    [
      ...params,
      params[1], // the written ids, which the claim skips
      kinds,
      kinds,
      claim?.limit ?? 0,
      claim?.leaseMs ?? 0,
      claim?.leaseMs ?? 0,
      claim?.owner ?? null,
      claim?.limit ?? 0,
      checked,
      checked,
      EVENT_LOCK_KEY,
      EVENTS_CHANNEL,
    ],
  ];
}

export interface CommittedRound extends WrittenSteps {
  /** Due steps claimed (after the continuations in `claimed`). */
  due: ClaimedStep[];
  /** A step of a workflow with a projection hook is due no later than the claimed ones. */
  hookedDue: boolean;
}

export function parseCommitRound(rows: unknown[]): CommittedRound {
  const mine: unknown[] = [];
  const due: unknown[] = [];
  let hookedDue = false;
  for (const row of rows as { tag: string }[]) {
    if (row.tag === "hooked") hookedDue = true;
    else if (row.tag === "due") due.push({ ...row, tag: undefined });
    else mine.push(row);
  }
  return { ...parseWritten(mine), due: parseClaimed(due), hookedDue };
}
