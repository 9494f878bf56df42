import { Migration } from "@mikro-orm/migrations";

/** The event log (history + subscription feed) and the lakehouse catalog registry. */
export class Migration20261123000500_events extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "event" (
      "sequence" bigserial primary key,
      "occurred_at" timestamptz(3) not null default now(),
      "tenant_id" uuid null,
      "topic" text not null,
      "type" text not null,
      "payload" jsonb not null);`);
    this.addSql(`create index "event_topic_sequence_index" on "event" ("topic", "sequence");`);
    this.addSql(`create index "event_tenant_id_sequence_index" on "event" ("tenant_id", "sequence");`);

    this.addSql(`create schema if not exists "lakehouse";`);
    this.addSql(`create table "lakehouse"."tenant_catalogs" (
      "id" uuid not null,
      "tenant_id" uuid not null,
      "name" text not null,
      "status" text check ("status" in ('ACTIVE', 'INACTIVE')) not null default 'ACTIVE',
      "created_at" timestamptz(3) not null default now(),
      "updated_at" timestamptz(3) not null default now(),
      constraint "tenant_catalogs_pkey" primary key ("id"));`);
    this.addSql(`alter table "lakehouse"."tenant_catalogs" add constraint "tenant_catalogs_tenant_id_name_unique" unique ("tenant_id", "name");`);
    this.addSql(`alter table "lakehouse"."tenant_catalogs" add constraint "tenant_catalogs_tenant_id_foreign"
      foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "lakehouse"."tenant_catalogs";`);
    this.addSql(`drop table if exists "event";`);
  }
}
