/**
 * Database exceptions, mapped once. A unique violation is a CONFLICT the caller can act on; a
 * foreign-key violation on insert means the referenced row is gone (NOT_FOUND); everything else
 * stays unknown and is masked at the boundary.
 */
import { DomainError } from "./domain.js";

interface PgErrorLike {
  code?: string;
  constraint?: string;
  table?: string;
}

function pgError(err: unknown): PgErrorLike | undefined {
  if (!err || typeof err !== "object") return undefined;
  const candidate = err as PgErrorLike & { cause?: unknown };
  if (typeof candidate.code === "string" && /^[0-9A-Z]{5}$/.test(candidate.code)) return candidate;
  // MikroORM wraps the driver error as `cause`/`previous`.
  const inner = (err as { previous?: unknown }).previous ?? candidate.cause;
  return inner && inner !== err ? pgError(inner) : undefined;
}

/**
 * deadlock_detected or serialization_failure: PostgreSQL rolled the transaction back and running
 * it again is the documented remedy (driver errors and MikroORM-wrapped ones alike).
 */
export function isRetryableDatabaseError(err: unknown): boolean {
  const code = pgError(err)?.code;
  return code === "40P01" || code === "40001";
}

export function mapDatabaseError(err: unknown): DomainError | undefined {
  const pg = pgError(err);
  if (!pg) return undefined;
  switch (pg.code) {
    case "23505":
      return new DomainError("CONFLICT", `Already exists (${pg.constraint ?? pg.table ?? "unique constraint"})`, {
        cause: err,
      });
    case "23503":
      return new DomainError("NOT_FOUND", `Referenced record not found (${pg.constraint ?? "foreign key"})`, {
        cause: err,
      });
    case "22P02":
    case "22001":
    case "23514":
      return new DomainError("BAD_USER_INPUT", "Invalid value for the database", { cause: err });
    default:
      return undefined;
  }
}
