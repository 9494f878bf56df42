/**
 * The process logger (pino, JSON lines). Request code logs through `ctx.log` (a child carrying
 * the request id). Secret-bearing fields are redacted by path as a last line of defence; the
 * first is never logging them. (No AsyncLocalStorage: its promise hooks cost every request.)
 */
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
