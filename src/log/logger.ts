/**
 * The process logger (pino, JSON lines) and the per-request async context. Anything that logs
 * inside a request gets its request id without passing it around. Secret-bearing fields are
 * redacted by path as a last line of defence; the first is never logging them.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { pino, type Logger } from "pino";

export type { Logger };

export const REDACT_PATHS = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "authorization",
  "x-api-key",
  "*.password",
  "*.secret",
  "*.webhookSecret",
  "*.token",
  "*.callback_token",
  "*.credentials",
  "*.config",
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "gantry" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

export interface RequestScope {
  requestId: string;
  log: Logger;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

export function currentRequestId(): string | undefined {
  return requestScope.getStore()?.requestId;
}
