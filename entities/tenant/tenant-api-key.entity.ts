import { randomUUID } from "node:crypto";
import { Entity, Filter, Index, ManyToOne, PrimaryKey, Property, type Ref } from "@mikro-orm/core";
import { tenantFilter } from "../common/tenant-filter.js";
import { Tenant } from "./tenant.entity.js";

/**
 * A tenant API credential (`X-API-Key: gtk_…`), issued by step 7 of the provisioning pipeline.
 * Only its SHA-256 is kept for authentication. The plaintext exists at rest only until an admin
 * picks it up once (`tenantCredentials`), as an AES-256-GCM envelope that the pickup erases.
 * Holds secrets: never exposed through GraphQL directly.
 */
@Entity({ tableName: "tenant_api_key" })
@Filter(tenantFilter)
export class TenantApiKey {
  @PrimaryKey({ type: "uuid" })
  id: string = randomUUID();

  @ManyToOne(() => Tenant, { ref: true, deleteRule: "cascade" })
  @Index()
  tenant!: Ref<Tenant>;

  /** Hex SHA-256 of the full key. */
  @Property({ type: "text", unique: true })
  keyHash!: string;

  /** The first characters of the key (`gtk_ab12cd34`), to tell keys apart without revealing them. */
  @Property({ type: "text" })
  keyPrefix!: string;

  /** The key encrypted under the master key until its one pickup; null afterwards. */
  @Property({ type: "text", nullable: true })
  pickupEnvelope: string | null = null;

  @Property({ type: "datetime", length: 3, nullable: true })
  pickedUpAt: Date | null = null;

  @Property({ type: "datetime", length: 3, nullable: true })
  revokedAt: Date | null = null;

  @Property({ type: "datetime", length: 3, defaultRaw: "now()" })
  createdAt: Date = new Date();
}
