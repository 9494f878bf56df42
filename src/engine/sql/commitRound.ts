/**
 * A worker round in one statement, sent with COMMIT in one message: the results written (fenced),
 * each advancing workflow's next step leased to the worker at once (eager continuation), the
 * workflow rows moved on, and the events appended with their snapshots composed by the server.
 *
 * The general path (transitions.ts) needs the write's rows in JavaScript to build the workflow
 * rows and event payloads, so a round is two messages with JavaScript between them. Under a
 * backlog most rounds are only this: every finished step advances its workflow and the next steps
 * take every slot, so there is no claim of due steps. For those rounds the server composes what
 * JavaScript would have, in the order it would have (the transitions' own events, then
 * `workflow.completed`/`workflow.failed`, then `step.started`), and the round costs one round trip
 * instead of two. transitions.ts decides when it applies (no claim of due steps, no compensation,
 * no projection hook, no workflow-level change).
 */
import { EVENT_LOCK_KEY } from "../../events/index.js";
import { EVENTS_CHANNEL } from "../../events/types.js";
import { preparable } from "../../db/sql.js";
import { WORKFLOW_TOPIC_PREFIX, type JsonObject } from "../types.js";
import type { Statement } from "./round.js";
import { stepSnapshotSql, workflowSnapshotSql } from "./rows.js";
import { FINAL } from "./updateWorkflows.js";
import { WRITE_CTES, WRITTEN_ROWS, writeParams, type EagerLease, type StepWrite } from "./writeSteps.js";

/** What a written step does to its workflow, as transitions.ts's `Consequence` (the kinds allowed here). */
export type RoundOutcome = { kind: "advance" } | { kind: "wait" } | { kind: "fail"; error: string } | { kind: "none" };

export interface RoundWrite extends StepWrite {
  outcome: RoundOutcome;
  /** The step's own events, in order. */
  events: { type: string; detail?: JsonObject }[];
}

const detailOf = (value: string) => `case when ${value} is null then '{}'::jsonb else jsonb_build_object('detail', ${value}) end`;

// One row per workflow: a failure outranks a wait, which outranks an advance (transitions.ts
// applies them in that order, the last one winning). An advancing workflow with no next step
// left is complete.
const COMMIT_ROUND = preparable(`with ${WRITE_CTES},
     changes as (
       select distinct on (d.workflow_id) d.workflow_id as id, d.ord,
              case d.outcome when 'fail' then 'FAILED' when 'wait' then 'WAITING'
                when 'advance' then case when exists (select 1 from next n where n.workflow_id = d.workflow_id) then 'RUNNING' else 'COMPLETED' end
              end as status,
              d.outcome_error as error
         from written d
        order by d.workflow_id, case d.outcome when 'fail' then 3 when 'wait' then 2 when 'advance' then 1 else 0 end desc, d.ord
     ), wf as (
       update workflow w set
         status = coalesce(c.status, w.status),
         error = case when c.status in ('FAILED', 'COMPLETED') then c.error else w.error end,
         completed_at = case when coalesce(c.status, w.status) in ${FINAL} then coalesce(w.completed_at, now()) else null end,
         updated_at = now()
         from changes c
        where w.id = any(?::uuid[]) and w.id = c.id
       returning w.id, w.tenant_id, w.status, w.error, c.ord, ${workflowSnapshotSql("w")} as snapshot
     ), ev as (
       select 1 as g, d.ord as k, x.n, w.tenant_id, w.id as workflow_id, x.value->>'type' as type,
              jsonb_build_object('workflow', w.snapshot, 'step', ${stepSnapshotSql("d")}) || ${detailOf("x.value->'detail'")} as payload
         from written d join wf w on w.id = d.workflow_id
              cross join lateral jsonb_array_elements(d.events) with ordinality as x(value, n)
       union all
       select 2, case when w.status = 'COMPLETED' then 0 else 1 end * 1000000 + w.ord, 0, w.tenant_id, w.id,
              case when w.status = 'COMPLETED' then 'workflow.completed' else 'workflow.failed' end,
              jsonb_build_object('workflow', w.snapshot, 'step', null)
                || case when w.status = 'FAILED' then jsonb_build_object('detail', jsonb_build_object('error', w.error)) else '{}'::jsonb end
         from wf w join changes c on c.id = w.id
        where c.status in ('COMPLETED', 'FAILED')
       union all
       select 3, n.ord, 0, w.tenant_id, w.id, 'step.started', jsonb_build_object('workflow', w.snapshot, 'step', ${stepSnapshotSql("n")})
         from next n join wf w on w.id = n.workflow_id
        where n.eager
     ), appended as (
       insert into event (tenant_id, topic, type, payload)
       select tenant_id, '${WORKFLOW_TOPIC_PREFIX}' || workflow_id, type, payload from ev
        where (select true from pg_advisory_xact_lock(?) as l)
        order by g, k, n
       returning pg_notify(?, '') is null as notified
     )
     ${WRITTEN_ROWS}`);

/** Only `outcome`s of these kinds, and only when every written step's workflow has no projection hook. */
export function commitRoundStatement(writes: RoundWrite[], workflowIds: string[], lease: EagerLease | undefined): Statement {
  const params = writeParams(writes, lease, (i) => {
    const w = writes[i]!;
    return { ord: i, outcome: w.outcome.kind, outcome_error: w.outcome.kind === "fail" ? w.outcome.error : null, events: w.events };
  });
  return [COMMIT_ROUND, [...params, `{${[...new Set(workflowIds)].join(",")}}`, EVENT_LOCK_KEY, EVENTS_CHANNEL]];
}
