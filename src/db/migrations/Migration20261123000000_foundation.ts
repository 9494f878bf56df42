import { Migration } from "@mikro-orm/migrations";

/** Foundation: tenants. */
export class Migration20261123000000_foundation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "tenant" (
      "id" uuid not null,
      "slug" text not null,
      "name" text not null,
      "provisioning_state" text check ("provisioning_state" in ('PROVISIONING', 'ACTIVE', 'FAILED', 'DEPROVISIONED')) not null default 'PROVISIONING',
      "completed_steps" jsonb not null default '[]',
      "failed_steps" jsonb not null default '[]',
      "last_error" text null,
      "created_at" timestamptz(3) not null default now(),
      "updated_at" timestamptz(3) not null default now(),
      constraint "tenant_pkey" primary key ("id"));`);
    this.addSql(`alter table "tenant" add constraint "tenant_slug_unique" unique ("slug");`);
    this.addSql(`create index "tenant_created_at_id_index" on "tenant" ("created_at", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "tenant" cascade;`);
  }
}
