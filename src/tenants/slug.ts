import { DomainError } from "../errors/index.js";
import { TENANT_SLUG_PATTERN } from "../../entities/tenant/tenant.entity.js";

/** Validates a tenant slug against SPEC's rule; the message names the rule that failed. */
export function validateSlug(slug: string, field = "slug"): string {
  if (slug.length < 3 || slug.length > 40) throw DomainError.badInput(field, "must be 3–40 characters long");
  if (!TENANT_SLUG_PATTERN.test(slug)) {
    throw DomainError.badInput(
      field,
      "must match ^[a-z][a-z0-9-]*[a-z0-9]$ (lowercase letters, digits and dashes; starts with a letter)",
    );
  }
  return slug;
}
