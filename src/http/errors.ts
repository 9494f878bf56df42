/**
 * The GraphQL error boundary, shared by HTTP and graphql-ws. Domain errors and known GraphQL
 * errors keep their code; database exceptions are mapped once; everything else is masked as
 * INTERNAL_SERVER_ERROR with the request id, and its detail goes only to the log.
 */
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import type { Logger } from "pino";
import { DomainError, ERROR_CODES, ErrorCode, mapDatabaseError } from "../errors/index.js";
import { currentRequestId } from "../log/logger.js";

/** Codes produced by GraphQL itself (parse, validation, coercion) are the caller's fault. */
const CALLER_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
]);

/** An API error: a GraphQLError carrying one of the closed codes. */
export class ApiError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}, cause?: unknown) {
    super(message, { extensions: { ...extensions, code }, originalError: cause instanceof Error ? cause : undefined });
  }
}

export function domainToGraphQL(err: DomainError): ApiError {
  const extensions: Record<string, unknown> = { ...err.details };
  if (err.field) extensions.field = err.field;
  return new ApiError(err.code, err.message, extensions);
}

export type FormatError = (formatted: GraphQLFormattedError, error: unknown, requestId?: string) => GraphQLFormattedError;

export function createFormatError(log: Logger): FormatError {
  return function formatError(formatted, error, requestIdArg) {
    const original = unwrapResolverError(error);
    const domain = original instanceof DomainError ? original : mapDatabaseError(original);
    if (domain) {
      const extensions: Record<string, unknown> = { ...domain.details, code: domain.code };
      if (domain.field) extensions.field = domain.field;
      return { message: domain.message, locations: formatted.locations, path: formatted.path, extensions };
    }
    const code = formatted.extensions?.code;
    if (typeof code === "string" && CALLER_CODES.has(code)) {
      return { ...formatted, extensions: { code: ErrorCode.BAD_USER_INPUT, reason: code } };
    }
    // A GraphQLError raised on purpose with one of our codes (ApiError, variable coercion) passes.
    if (typeof code === "string" && ERROR_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code } };
    }
    const requestId = requestIdArg ?? currentRequestId();
    log.error({ err: original, requestId, path: formatted.path }, "unexpected error in GraphQL operation");
    return {
      message: `Internal server error (request id ${requestId ?? "unknown"})`,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
    };
  };
}
