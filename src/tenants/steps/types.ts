/**
 * The tenant provisioning steps, as plain functions the workflow engine calls.
 *
 * Glossary:
 * - step: one of the nine named units of the pipeline (`step_1` … `step_9`). `run` makes its
 *   effect and returns a JSON output (never a secret); `compensate` undoes the effect.
 * - idempotent: running a step again after it succeeded (or after a crash half-way) is harmless
 *   and ends in the same state, because a worker may execute a step more than once.
 * - owned schema: a PostgreSQL schema whose comment names the tenant that created it; steps only
 *   ever drop schemas they own, so a naming collision can never destroy another tenant's data.
 */
import type { Logger } from "pino";
import type { Config } from "../../config.js";
import type { Orm } from "../../db/orm.js";

/** The tenant a step works on (validated before any step runs). */
export interface TenantRef {
  id: string;
  slug: string;
  name: string;
}

/** What steps need from the process. */
export interface StepDeps {
  orm: Orm;
  config: Pick<Config, "namespacePrefix" | "icebergCatalogUrl" | "masterKey" | "tenantMigrationsDir">;
  log?: Logger | undefined;
  /** Aborts outbound calls (Iceberg REST) when the engine gives up on the attempt. */
  signal?: AbortSignal | undefined;
}

export type StepOutput = Record<string, unknown>;

export interface TenantStep {
  /** `step_1` … `step_9`: the names SPEC and clients use. */
  name: string;
  /** What the step does, for humans (CLI progress, docs). */
  title: string;
  run(deps: StepDeps, tenant: TenantRef): Promise<StepOutput>;
  compensate(deps: StepDeps, tenant: TenantRef): Promise<void>;
}

/** A step failure whose message is safe to store and show (no secrets, no SQL text). */
export class StepFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StepFailure";
  }
}
