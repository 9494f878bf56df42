export { ErrorCode, ERROR_CODES, HTTP_STATUS } from "./codes.js";
export { DomainError, isDomainError, type DomainErrorOptions } from "./domain.js";
export { isRetryableDatabaseError, mapDatabaseError } from "./database.js";
