/**
 * Domain errors: thrown by services, the engine and the REST shim, which know nothing of GraphQL.
 * The GraphQL boundary (`src/http/errors.ts`) turns them into GraphQLErrors with the same code;
 * the REST shim into statuses. Use the named factories, so a message reads the same everywhere.
 */
import { ErrorCode } from "./codes.js";

export interface DomainErrorOptions {
  /** The input field at fault (BAD_USER_INPUT), as a path such as `input.slug`. */
  field?: string;
  cause?: unknown;
  /** Extra machine-readable detail, copied into `extensions`. Never put a secret here. */
  details?: Record<string, unknown>;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DomainError";
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }

  static notFound(what: string, id?: string): DomainError {
    return new DomainError(ErrorCode.NOT_FOUND, id === undefined ? `${what} not found` : `${what} "${id}" not found`);
  }
  static conflict(message: string, details?: Record<string, unknown>): DomainError {
    return new DomainError(ErrorCode.CONFLICT, message, { details });
  }
  static badInput(field: string, message: string): DomainError {
    return new DomainError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });
  }
  static unauthenticated(message = "Authentication required"): DomainError {
    return new DomainError(ErrorCode.UNAUTHENTICATED, message);
  }
  static forbidden(message = "Not allowed"): DomainError {
    return new DomainError(ErrorCode.FORBIDDEN, message);
  }
}

export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
