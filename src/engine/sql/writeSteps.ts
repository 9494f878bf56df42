import type { EntityManager } from "../../db/orm.js";
import type { JsonObject, StepStatus } from "../types.js";
import { batch, exec } from "./exec.js";
import { preparable } from "../../db/sql.js";
import type { StepRow } from "./rows.js";
import { parseClaimed, type ClaimedStep } from "./claimSteps.js";
import type { Statement } from "./round.js";

/** A step row's columns, unqualified (as the CTEs below return them). */
export const COLUMNS = `id, workflow_id, tenant_id, name, position, kind, status, attempt, attempt_base, retry_count, max_attempts,
  due_at, leased_until, lease_owner, started_at, completed_at, next_attempt_at, deadline_at, error, output, secret_output, state`;

/**
 * The write (`v`, `written`) and the continuation (`next`) as CTEs, shared by {@link writeSteps}
 * and the one-statement round (commitRound.ts). `ord`, `outcome`, `outcome_error` and `events`
 * ride along for the latter (null here: {@link writeStepsStatement} does not send them).
 */
export const WRITE_CTES = `v as (
       select * from jsonb_to_recordset(?::jsonb) as v(id uuid, attempt int, from_status text, lease_owner text, status text,
         due_at timestamptz, started_at timestamptz, completed_at timestamptz, next_attempt_at timestamptz,
         deadline_at timestamptz, error text, output jsonb, secret_output text, state jsonb, retry_count int, attempt_base int,
         advance boolean, eager boolean, ord int, outcome text, outcome_error text, events jsonb)
     ), written as (
       update workflow_step s set
         status = v.status, due_at = v.due_at, started_at = v.started_at, completed_at = v.completed_at,
         next_attempt_at = v.next_attempt_at, deadline_at = v.deadline_at, error = v.error, output = v.output,
         secret_output = v.secret_output, state = v.state, retry_count = v.retry_count, attempt_base = v.attempt_base,
         leased_until = null, lease_owner = null, updated_at = now()
       from v
       where s.id = any(?::uuid[]) and s.id = v.id and s.attempt = v.attempt and s.status = v.from_status
         and s.lease_owner is not distinct from v.lease_owner
       returning s.*, v.advance, v.eager, v.ord, v.outcome, v.outcome_error, v.events
     ), next as (
       update workflow_step s set
         attempt = case when d.eager then s.attempt + 1 else s.attempt end,
         status = case when d.eager then 'RUNNING' else s.status end,
         started_at = case when d.eager then now() else s.started_at end,
         leased_until = case when d.eager then now() + ? * interval '1 millisecond' else s.leased_until end,
         lease_owner = case when d.eager then ? else s.lease_owner end,
         due_at = case when d.eager then now() + ? * interval '1 millisecond' else least(now(), w.created_at) end,
         updated_at = now()
         from written d join workflow w on w.id = d.workflow_id
        where d.advance and s.workflow_id = d.workflow_id and s.position = d.position + 1 and s.status = 'PENDING'
       returning s.*, d.eager, d.ord,
         case when d.eager then to_jsonb(w) end as w,
         case when d.eager then
           coalesce((select jsonb_object_agg(p.name, coalesce(p.output, '{}'::jsonb)) from workflow_step p
                      where p.workflow_id = d.workflow_id and p.position < d.position and p.status = 'COMPLETED'), '{}'::jsonb)
             || jsonb_build_object(d.name, coalesce(d.output, '{}'::jsonb))
         end as outputs
     )`;

/**
 * The rows of `written` and `next`, tagged, as {@link parseWritten} reads them; `extra` columns
 * (null in both) for a caller that unions more rows after them (commitRound.ts).
 */
export const writtenRows = (extra: string[] = []) => {
  const more = extra.map((c) => `, null::${c}`).join("");
  return `select 'written' as tag, ${COLUMNS}, null::jsonb as w, null::jsonb as outputs, now()::timestamptz(3) as at${more} from written
     union all
     select case when eager then 'claimed' else 'next' end as tag, ${COLUMNS}, w, outputs, now()::timestamptz(3) as at${more} from next`;
};

// `s.id = any(<ids>)`: the planner cannot count jsonb_to_recordset's rows (it assumes 100) and
// chose a sequential scan of the whole step table, history included, for every round; a
// literal array is counted, so the rows are found through the primary key.
// Prepared once per connection in worker rounds (round.ts).
const WRITE_STEPS = preparable(`with ${WRITE_CTES}
     ${writtenRows()}`);

/** The new values of one step, and the fence its write must pass. */
export interface StepWrite {
  id: string;
  /** Fence: the write applies only if the row still has this attempt, status and lease owner. */
  attempt: number;
  fromStatus: StepStatus;
  leaseOwner: string | null;
  status: StepStatus;
  dueAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  nextAttemptAt: string | null;
  deadlineAt: string | null;
  error: string | null;
  output: JsonObject | null;
  secretOutput: string | null;
  state: JsonObject | null;
  retryCount: number;
  attemptBase: number;
  /** Once written, make the workflow's next step (position + 1, still PENDING) due. */
  advance: boolean;
  /** With `advance`: lease that next step at once to the writer (see {@link EagerLease}) instead of making it due. */
  eager?: boolean;
}

/** Who takes the next steps of `eager` writes, and for how long. */
export interface EagerLease {
  owner: string;
  leaseMs: number;
}

export interface WrittenSteps {
  /** The writes whose fence held (the others changed nothing: the caller drops them). */
  written: StepRow[];
  /** Next steps made due by the `advance` writes. */
  next: StepRow[];
  /** Next steps of `eager` writes, leased to the writer: claimed as {@link claimSteps} would. */
  claimed: ClaimedStep[];
  /** The transaction's `now()` (null when no row was written). */
  at: Date | null;
}

/**
 * Writes many steps in one fenced statement, releases their leases, and moves each advancing
 * workflow on to its next step. The next step is due as of its workflow's creation (not "now"),
 * and claims take the oldest due first, so a started workflow runs on ahead of newer ones waiting
 * for their first step: oldest workflow first, which keeps the step-to-step hand-off short.
 *
 * Eager continuation: for an `eager` write the next step is not made due but claimed in the same
 * statement by the writer (a new attempt, RUNNING, leased), exactly as `claimSteps` would have
 * claimed it a statement later — without a second update of the row, without waiting behind the
 * backlog, and returned with the claim's workflow row and earlier outputs (the step just written
 * included: this statement's snapshot does not show it as COMPLETED yet).
 */
export async function writeSteps(em: EntityManager, writes: StepWrite[], lease?: EagerLease): Promise<WrittenSteps> {
  if (writes.length === 0) return { written: [], next: [], claimed: [], at: null };
  return parseWritten(await exec(em, ...writeStepsStatement(writes, lease)));
}

/** The statement of {@link writeSteps} (to send along with others), and its rows' parser. */
export function writeStepsStatement(writes: StepWrite[], lease?: EagerLease): Statement {
  return [WRITE_STEPS, writeParams(writes, lease)];
}

/** The parameters of {@link WRITE_CTES}; `extra` adds fields to each write's row (by index). */
export function writeParams(writes: StepWrite[], lease?: EagerLease, extra?: (i: number) => object): unknown[] {
  if (!lease && writes.some((w) => w.eager)) throw new Error("eager writes need a lease");
  return [
    batch(
      writes.map((w, i) => ({
        id: w.id,
        attempt: w.attempt,
        from_status: w.fromStatus,
        lease_owner: w.leaseOwner,
        status: w.status,
        due_at: w.dueAt,
        started_at: w.startedAt,
        completed_at: w.completedAt,
        next_attempt_at: w.nextAttemptAt,
        deadline_at: w.deadlineAt,
        error: w.error,
        output: w.output,
        secret_output: w.secretOutput,
        state: w.state,
        retry_count: w.retryCount,
        attempt_base: w.attemptBase,
        advance: w.advance,
        eager: w.advance && w.eager === true,
        ...extra?.(i),
      })),
    ),
    // UUIDs need no quoting inside an array literal (and are checked by the cast).
    `{${writes.map((w) => w.id).join(",")}}`,
    lease?.leaseMs ?? 0,
    lease?.owner ?? null,
    lease?.leaseMs ?? 0,
  ];
}

type TaggedRow = StepRow & { tag: "written" | "next" | "claimed"; w: unknown; outputs: unknown; at: Date };

export function parseWritten(rows: unknown[]): WrittenSteps {
  const out: WrittenSteps = { written: [], next: [], claimed: [], at: null };
  const leased: unknown[] = [];
  for (const { tag, w, outputs, at, ...row } of rows as TaggedRow[]) {
    out.at = at;
    if (tag === "claimed") leased.push({ ...row, prev_status: "PENDING", reclaimed: false, w, outputs });
    else out[tag].push(row as StepRow);
  }
  out.claimed = parseClaimed(leased);
  return out;
}
