import { randomUUID } from "node:crypto";
import { Entity, Enum, Filter, Index, OptionalProps, PrimaryKey, Property } from "@mikro-orm/core";
import { TENANT_FILTER, type TenantFilterArgs } from "../common/tenant-filter.js";

export enum ProvisioningState {
  PROVISIONING = "PROVISIONING",
  ACTIVE = "ACTIVE",
  FAILED = "FAILED",
  DEPROVISIONED = "DEPROVISIONED",
}

/** Slug rule from SPEC: 3–40 chars, lowercase letters, digits and dashes, starting with a letter. */
export const TENANT_SLUG_PATTERN = /^[a-z][a-z0-9-]*[a-z0-9]$/;

/**
 * A tenant of the platform. Its provisioning fields are a projection of its
 * `tenant_provisioning` workflow, kept here so that status reads are one row.
 */
@Entity({ tableName: "tenant" })
@Index({ properties: ["createdAt", "id"] })
@Filter({
  name: TENANT_FILTER,
  default: true,
  // A tenant sees only itself.
  cond: (args: TenantFilterArgs) => (args.tenantId === null ? {} : { id: args.tenantId }),
})
export class Tenant {
  [OptionalProps]?: "provisioningState" | "completedSteps" | "failedSteps" | "lastError" | "createdAt" | "updatedAt";

  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @Property({ type: "text", unique: true })
  slug!: string;

  @Property({ type: "text" })
  name!: string;

  @Enum({ items: () => ProvisioningState })
  provisioningState: ProvisioningState = ProvisioningState.PROVISIONING;

  @Property({ type: "json", defaultRaw: "'[]'" })
  completedSteps: string[] = [];

  @Property({ type: "json", defaultRaw: "'[]'" })
  failedSteps: string[] = [];

  @Property({ type: "text", nullable: true })
  lastError: string | null = null;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  createdAt: Date = new Date();

  @Property({ type: "datetime", length: 3, defaultRaw: "now()", onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
