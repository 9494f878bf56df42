/** Input rules for connectors: every name that ends up in SQL or a path is a safe identifier. */
import { DomainError } from "../errors/index.js";

const RULES = {
  /** Becomes part of a staging schema name: `<prefix>_staging_<slug>_<source>`. */
  sourceSystem: { pattern: /^[a-z][a-z0-9_]{0,29}$/, text: "lowercase letters, digits and _, starting with a letter, at most 30" },
  /** A PostgreSQL table name (unquoted-safe). */
  destinationTable: { pattern: /^[a-z_][a-z0-9_]{0,62}$/, text: "lowercase letters, digits and _, at most 63, not starting with a digit" },
  destinationCatalog: { pattern: /^[a-z][a-z0-9_-]{0,62}$/, text: "a catalog name (lowercase letters, digits, - and _)" },
  /** A Singer tap executable name, e.g. `tap-postgres`. */
  tapName: { pattern: /^[a-z0-9][a-z0-9_.-]{0,99}$/, text: "lowercase letters, digits, '.', '-' and '_'" },
  tapVersion: { pattern: /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/, text: "a version such as 1.2.3" },
  meltanoEnvironment: { pattern: /^[a-z][a-z0-9_-]{0,39}$/, text: "lowercase letters, digits, - and _" },
  /** Singer stream and column names are looser, but still single identifiers. */
  stream: { pattern: /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/, text: "a Singer stream name" },
  sourceField: { pattern: /^[A-Za-z_][A-Za-z0-9_]{0,127}$/, text: "letters, digits and _" },
  destinationColumn: { pattern: /^[a-z_][a-z0-9_]{0,62}$/, text: "lowercase letters, digits and _, at most 63" },
  dataType: { pattern: /^[a-z][a-z0-9 ()_,]{0,39}$/, text: "a type name such as text, bigint, numeric(12,2)" },
} as const;

export type RuleName = keyof typeof RULES;

/** Returns `value` when it satisfies the rule; else BAD_USER_INPUT naming `field`. */
export function checkName(rule: RuleName, value: string, field: string): string {
  const { pattern, text } = RULES[rule];
  if (!pattern.test(value)) throw DomainError.badInput(field, `must be ${text}`);
  return value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id that is not a UUID cannot name a row: NOT_FOUND, like any other missing id. */
export function checkId(id: string, what: string): string {
  if (!UUID.test(id)) throw DomainError.notFound(what, id.slice(0, 64));
  return id.toLowerCase();
}

export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}
