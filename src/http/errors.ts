/**
 * The GraphQL error boundary, shared by HTTP and graphql-ws. Domain errors and known GraphQL
 * errors keep their code; database exceptions are mapped once; everything else is masked as
 * INTERNAL_SERVER_ERROR with the request id, and its detail goes only to the log.
 */
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import type { Logger } from "pino";
import { DomainError, ERROR_CODES, ErrorCode, mapDatabaseError } from "../errors/index.js";

/** Codes produced by GraphQL itself (parse, validation, coercion) are the caller's fault. */
const CALLER_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
]);

const INTERNAL_MESSAGE = "Internal server error";

/**
 * graphql-js echoes the offending value in coercion errors (`Variable "$input" got invalid value
 * "<the value>" at "input.config"; JSONObject cannot represent non-object value: <the value>`).
 * That value may be a tap config or a credential sent in the wrong shape, so the caller gets the
 * variable, the path and the reason, never the value (the caller knows what it sent).
 */
export function withoutEchoedValues(message: string): string {
  const reason = (text: string) => text.replace(/(value|found):? [\s\S]*$/, "$1 not shown");
  // Greedy up to the last ` at "path"; ` (the value itself may contain "; "); without a path,
  // up to a reason graphql-js writes; failing both, the head alone.
  const variable =
    /^(Variable "\$[^"]+" got invalid value) [\s\S]*( at "[^"]*"); ([\s\S]*)$/.exec(message) ??
    /^(Variable "\$[^"]+" got invalid value) [\s\S]*?()(?:; )((?:Expected|Field|Unknown|Exactly) [\s\S]*)$/.exec(message);
  if (variable) return `${variable[1]}${variable[2]}; ${reason(variable[3]!)}`;
  if (message.startsWith("Variable \"$") && message.includes(" got invalid value ")) return `${message.slice(0, message.indexOf(" got invalid value "))} got an invalid value.`;
  const literal = /^(Expected value of type "[^"]+"), found [\s\S]*?(?:; ([\s\S]*))?$/.exec(message);
  if (literal) return `${literal[1]}, found another value${literal[2] ? `; ${reason(literal[2])}` : "."}`;
  // A scalar's own parseLiteral error (e.g. `JSONObject cannot represent non-object value: …`).
  const scalar = /^(\w+ cannot represent [^:]*value): [\s\S]*$/.exec(message);
  if (scalar) return `${scalar[1]} (not shown)`;
  return message;
}

/** graphql-js gives up coercing variables after 50 errors with a code-less GraphQLError: still the caller's input. */
function isCoercionLimit(error: unknown): boolean {
  return error instanceof GraphQLError && !error.originalError && error.message.startsWith("Too many errors processing variables");
}

/** Whether an error is one nobody raised on purpose (it is masked, and logged with the request id). */
export function isUnexpected(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof DomainError || mapDatabaseError(original) || isCoercionLimit(original)) return false;
  if (!(original instanceof GraphQLError)) return true; // thrown by our code, not on purpose
  const code = original.extensions?.code;
  return !(typeof code === "string" && (CALLER_CODES.has(code) || (ERROR_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR)));
}

/** Stamps the request id on masked errors of an HTTP answer (see createFormatError). */
export function stampRequestId(
  errors: readonly GraphQLFormattedError[] | undefined,
  requestId: string,
): GraphQLFormattedError[] | undefined {
  return errors?.map((e) =>
    e.extensions?.code === ErrorCode.INTERNAL_SERVER_ERROR && e.message === INTERNAL_MESSAGE
      ? { ...e, message: `${INTERNAL_MESSAGE} (request id ${requestId})`, extensions: { ...e.extensions, requestId } }
      : e,
  );
}

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
    if (isCoercionLimit(original)) return { message: formatted.message, locations: formatted.locations, extensions: { code: ErrorCode.BAD_USER_INPUT } };
    const code = formatted.extensions?.code;
    if (typeof code === "string" && CALLER_CODES.has(code)) {
      return { ...formatted, message: withoutEchoedValues(formatted.message), extensions: { code: ErrorCode.BAD_USER_INPUT, reason: code } };
    }
    // A GraphQLError raised on purpose with one of our codes (ApiError, variable coercion) passes.
    if (typeof code === "string" && ERROR_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      return { message: withoutEchoedValues(formatted.message), locations: formatted.locations, path: formatted.path, extensions: { code } };
    }
    // Over HTTP the request id is not known here (Apollo's formatError has no context): the
    // request-id plugin in graphql.ts logs the error and stamps the id on the answer.
    const requestId = requestIdArg;
    if (requestId) log.error({ err: original, requestId, path: formatted.path }, "unexpected error in GraphQL operation");
    return {
      message: requestId ? `Internal server error (request id ${requestId})` : INTERNAL_MESSAGE,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
    };
  };
}
