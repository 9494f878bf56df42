/**
 * Timestamps as the database layer hands them over — text, since MikroORM keeps `timestamptz`
 * values as strings ("2026-11-23 21:08:07.382516+00"), or inside a row turned into JSON by
 * `to_jsonb` ("2026-11-23T21:08:07.382516+00:00") — turned into the ISO form of
 * `Date#toISOString` ("2026-11-23T21:08:07.382Z"), which event snapshots carry.
 *
 * Written by hand for speed, not format coverage: the engine formats a dozen of these per step,
 * and V8 parsing this text into a Date (~1 µs each, then `toISOString`) was ~6 % of a worker's CPU.
 * Only the UTC form with a four-digit year takes the fast path (Gantry's sessions run in UTC);
 * any other text goes through `Date` as before. Digits past the millisecond are cut, as `Date`
 * does.
 */
const PG_UTC = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00(?::00)?$/;

export function isoTimestamp(value: Date | string): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string") {
    const m = PG_UTC.exec(value);
    if (m) return `${m[1]}T${m[2]}.${`${m[3] ?? ""}000`.slice(0, 3)}Z`;
  }
  return new Date(value).toISOString();
}

/** {@link isoTimestamp}, with no timestamp (null, undefined) as null. */
export const isoTimestampOrNull = (value: Date | string | null | undefined): string | null => (value ? isoTimestamp(value) : null);
