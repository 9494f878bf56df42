/**
 * Names of the PostgreSQL objects built from a tenant's slug or a connector's fields. Every
 * identifier made from user input passes through here: validated against a strict pattern and
 * double-quoted, so a slug can never inject SQL.
 */
import { DomainError } from "../errors/index.js";
import { validateSlug } from "./slug.js";

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** PostgreSQL truncates identifiers at 63 bytes; refuse instead of silently colliding. */
const MAX_IDENTIFIER = 63;

function underscored(value: string): string {
  return value.replace(/-/g, "_");
}

/** A safe lowercase identifier part (connector source systems, table names). */
export function identifierPart(value: string, field: string): string {
  const part = underscored(value.toLowerCase());
  if (!IDENTIFIER.test(part) || part.length > 40) {
    throw DomainError.badInput(field, "must start with a letter or underscore and contain only a-z, 0-9, _ and - (max 40)");
  }
  return part;
}

function checkLength(name: string, field: string): string {
  if (Buffer.byteLength(name) > MAX_IDENTIFIER) throw DomainError.badInput(field, `makes an identifier longer than ${MAX_IDENTIFIER} bytes`);
  return name;
}

/** The tenant's own database schema: `tenant_<slug>`. */
export function tenantSchemaName(slug: string): string {
  return checkLength(`tenant_${underscored(validateSlug(slug))}`, "slug");
}

/** The tenant's lakehouse namespace: `<prefix>_tenant_<slug>`. */
export function lakehouseNamespace(prefix: string, slug: string): string {
  return checkLength(`${prefix}_tenant_${underscored(validateSlug(slug))}`, "slug");
}

/** Where the runner stages a source system's records: `<prefix>_staging_<slug>_<source>`. */
export function stagingSchemaName(prefix: string, slug: string, sourceSystem: string): string {
  return checkLength(
    `${prefix}_staging_${underscored(validateSlug(slug))}_${identifierPart(sourceSystem, "sourceSystem")}`,
    "sourceSystem",
  );
}

/** Validates an identifier and double-quotes it for SQL. */
export function quoteIdent(name: string): string {
  if (!IDENTIFIER.test(name) || Buffer.byteLength(name) > MAX_IDENTIFIER) {
    throw DomainError.badInput("identifier", `"${name.slice(0, 80)}" is not a safe SQL identifier`);
  }
  return `"${name}"`;
}
