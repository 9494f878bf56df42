/**
 * PostgreSQL identifiers derived from tenant slugs. Every identifier built from user input goes
 * through these: a slug is validated first, and `quoteIdent` refuses anything that is not a plain
 * lowercase identifier of at most 63 bytes, so a slug can never inject SQL.
 */
import { DomainError } from "../errors/index.js";
import { validateSlug } from "./slug.js";

const IDENT = /^[a-z_][a-z0-9_]*$/;
const MAX_IDENT_BYTES = 63;

function underscored(value: string): string {
  return value.replace(/-/g, "_");
}

/** Validates and double-quotes an identifier; BAD_USER_INPUT on anything unsafe. */
export function quoteIdent(name: string, field = "identifier"): string {
  if (!IDENT.test(name)) throw DomainError.badInput(field, `"${name}" is not a safe identifier (^[a-z_][a-z0-9_]*$)`);
  if (Buffer.byteLength(name) > MAX_IDENT_BYTES) throw DomainError.badInput(field, `"${name}" is longer than 63 bytes`);
  return `"${name}"`;
}

/** The tenant's own database schema: `tenant_<slug_with_underscores>`. */
export function tenantSchemaName(slug: string): string {
  return `tenant_${underscored(validateSlug(slug))}`;
}

/** The tenant's lakehouse namespace: `<prefix>_tenant_<slug_>`. */
export function lakehouseNamespace(prefix: string, slug: string): string {
  return `${prefix}_tenant_${underscored(validateSlug(slug))}`;
}

/** A tenant's staging schema for one source system: `<prefix>_staging_<slug_>_<source_>`. */
export function stagingSchemaName(prefix: string, slug: string, sourceSystem: string): string {
  return `${prefix}_staging_${underscored(validateSlug(slug))}_${underscored(sourceSystem.toLowerCase())}`;
}
