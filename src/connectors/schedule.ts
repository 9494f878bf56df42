/**
 * Cron schedules (croner, UTC). Five fields (minute precision) or a nickname such as `@daily`;
 * second-level patterns are refused so one connector cannot flood the scheduler.
 */
import { Cron } from "croner";
import { DomainError } from "../errors/index.js";

export const DEFAULT_SCHEDULE = "0 2 * * *";
/** A newly registered connector's first run happens within this delay. */
export const FIRST_RUN_WITHIN_MS = 5 * 60_000;

const cache = new Map<string, Cron>();

function cronFor(pattern: string): Cron {
  let cron = cache.get(pattern);
  if (!cron) {
    cron = new Cron(pattern, { paused: true, timezone: "UTC" });
    if (cache.size > 10_000) cache.clear();
    cache.set(pattern, cron);
  }
  return cron;
}

/** Throws BAD_USER_INPUT naming `field` unless `pattern` is a usable schedule. */
export function validateSchedule(pattern: string, field = "input.syncSchedule"): string {
  const trimmed = pattern.trim().replace(/\s+/g, " ");
  if (!trimmed.startsWith("@") && trimmed.split(" ").length !== 5) {
    throw DomainError.badInput(field, "must be a cron expression with 5 fields (minute hour day month weekday) or a nickname like @daily");
  }
  try {
    if (!cronFor(trimmed).nextRun()) throw new Error("never runs");
  } catch (err) {
    throw DomainError.badInput(field, `is not a valid cron expression (${err instanceof Error ? err.message : "invalid"})`);
  }
  return trimmed;
}

/** The schedule's next time strictly after `from`; null if it never fires again. */
export function nextRunAfter(pattern: string, from: Date = new Date()): Date | null {
  return cronFor(pattern).nextRun(from);
}

/** First run of a new connector: its next cron time if that is within 5 minutes, else in 5 minutes. */
export function firstRunAt(pattern: string, now: Date = new Date()): Date {
  const next = nextRunAfter(pattern, now);
  const cap = new Date(now.getTime() + FIRST_RUN_WITHIN_MS);
  return next && next < cap ? next : cap;
}
