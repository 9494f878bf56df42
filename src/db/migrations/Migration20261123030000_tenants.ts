import { Migration } from "@mikro-orm/migrations";

/** Tenant pipeline: API credentials (step 7) and settings (step 8). */
export class Migration20261123030000_tenants extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "tenant_api_key" (
      "id" uuid not null,
      "tenant_id" uuid not null,
      "key_hash" text not null,
      "key_prefix" text not null,
      "pickup_envelope" text null,
      "picked_up_at" timestamptz(3) null,
      "revoked_at" timestamptz(3) null,
      "created_at" timestamptz(3) not null default now(),
      constraint "tenant_api_key_pkey" primary key ("id"));`);
    this.addSql(`alter table "tenant_api_key" add constraint "tenant_api_key_key_hash_unique" unique ("key_hash");`);
    this.addSql(`create index "tenant_api_key_tenant_id_index" on "tenant_api_key" ("tenant_id");`);
    this.addSql(`alter table "tenant_api_key" add constraint "tenant_api_key_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);

    this.addSql(`create table "tenant_settings" (
      "tenant_id" uuid not null,
      "timezone" text not null default 'UTC',
      "default_sync_schedule" text not null default '0 2 * * *',
      "run_retention_days" int not null default 90,
      "created_at" timestamptz(3) not null default now(),
      constraint "tenant_settings_pkey" primary key ("tenant_id"));`);
    this.addSql(`alter table "tenant_settings" add constraint "tenant_settings_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "tenant_settings" cascade;`);
    this.addSql(`drop table if exists "tenant_api_key" cascade;`);
  }
}
