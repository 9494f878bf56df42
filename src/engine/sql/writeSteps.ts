import type { EntityManager } from "../../db/orm.js";
import type { JsonObject, StepStatus } from "../types.js";
import { batch, exec } from "./exec.js";
import type { StepRow } from "./rows.js";
import type { Statement } from "./round.js";

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
}

export interface WrittenSteps {
  /** The writes whose fence held (the others changed nothing: the caller drops them). */
  written: StepRow[];
  /** Next steps made due by the `advance` writes. */
  next: StepRow[];
}

/**
 * Writes many steps in one fenced statement, releases their leases, and makes the next step of
 * each advancing workflow due. The next step is due as of its workflow's creation (not "now"),
 * and claims take the oldest due first, so a started workflow runs on ahead of newer ones waiting
 * for their first step: oldest workflow first, which keeps the step-to-step hand-off short.
 */
export async function writeSteps(em: EntityManager, writes: StepWrite[]): Promise<WrittenSteps> {
  if (writes.length === 0) return { written: [], next: [] };
  return parseWritten(await exec(em, ...writeStepsStatement(writes)));
}

/** The statement of {@link writeSteps} (to send along with others), and its rows' parser. */
export function writeStepsStatement(writes: StepWrite[]): Statement {
  return [
    `with v as (
       select * from jsonb_to_recordset(?::jsonb) as v(id uuid, attempt int, from_status text, lease_owner text, status text,
         due_at timestamptz, started_at timestamptz, completed_at timestamptz, next_attempt_at timestamptz,
         deadline_at timestamptz, error text, output jsonb, secret_output text, state jsonb, retry_count int, attempt_base int,
         advance boolean)
     ), written as (
       update workflow_step s set
         status = v.status, due_at = v.due_at, started_at = v.started_at, completed_at = v.completed_at,
         next_attempt_at = v.next_attempt_at, deadline_at = v.deadline_at, error = v.error, output = v.output,
         secret_output = v.secret_output, state = v.state, retry_count = v.retry_count, attempt_base = v.attempt_base,
         leased_until = null, lease_owner = null, updated_at = now()
       from v
       where s.id = v.id and s.attempt = v.attempt and s.status = v.from_status
         and s.lease_owner is not distinct from v.lease_owner
       returning s.*, v.advance
     ), next as (
       update workflow_step s set due_at = least(now(), w.created_at), updated_at = now()
         from written d join workflow w on w.id = d.workflow_id
        where d.advance and s.workflow_id = d.workflow_id and s.position = d.position + 1 and s.status = 'PENDING'
       returning s.*
     )
     select 'written' as tag, ${COLUMNS} from written
     union all
     select 'next' as tag, ${COLUMNS} from next`,
    [
      batch(
        writes.map((w) => ({
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
        })),
      ),
    ],
  ];
}

export function parseWritten(rows: unknown[]): WrittenSteps {
  const tagged = rows as (StepRow & { tag: "written" | "next" })[];
  const strip = ({ tag: _tag, ...row }: StepRow & { tag: string }) => row as StepRow;
  return { written: tagged.filter((r) => r.tag === "written").map(strip), next: tagged.filter((r) => r.tag === "next").map(strip) };
}

const COLUMNS = `id, workflow_id, tenant_id, name, position, kind, status, attempt, attempt_base, retry_count, max_attempts,
  due_at, leased_until, lease_owner, started_at, completed_at, next_attempt_at, deadline_at, error, output, secret_output, state`;
