/**
 * Step 6: the tenant's base staging schema, `<prefix>_staging_<slug>`. The runner stages each
 * source system's records in `<prefix>_staging_<slug>_<source>` (`stagingSchemaName`), created on
 * first use; the base schema holds what is shared across sources. Owner-marked, so if another
 * tenant's per-source schema happens to have this name (`acme` + source `x` and tenant `acme-x`
 * both give `gantry_staging_acme_x`) the step fails instead of adopting or later dropping it.
 */
import { DomainError } from "../../errors/index.js";
import { validateSlug } from "../slug.js";
import { dropOwnedSchema, ensureOwnedSchema, inTransaction } from "./sql.js";
import type { StepDeps, TenantRef, TenantStep } from "./types.js";
import { TENANT_STEP_TITLES } from "../step-names.js";

/** `<prefix>_staging_<slug_with_underscores>`. */
export function stagingBaseSchemaName(prefix: string, slug: string): string {
  const name = `${prefix}_staging_${validateSlug(slug).replace(/-/g, "_")}`;
  if (Buffer.byteLength(name) > 63) throw DomainError.badInput("slug", "makes an identifier longer than 63 bytes");
  return name;
}

export const stagingStep: TenantStep = {
  name: "step_6",
  title: TENANT_STEP_TITLES.step_6!,
  async run(deps: StepDeps, tenant: TenantRef) {
    const schema = stagingBaseSchemaName(deps.config.namespacePrefix, tenant.slug);
    const outcome = await inTransaction(deps, (em) => ensureOwnedSchema(em, schema, tenant.id));
    return { schemas: [schema], outcome };
  },
  async compensate(deps: StepDeps, tenant: TenantRef) {
    const schema = stagingBaseSchemaName(deps.config.namespacePrefix, tenant.slug);
    await inTransaction(deps, (em) => dropOwnedSchema(em, schema, tenant.id));
  },
};
