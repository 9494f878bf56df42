import { Migration } from "@mikro-orm/migrations";

/** Connectors: connectors, field mappings, runs, tap state and webhook deliveries (issue 5). */
export class Migration20261123020000_connectors extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "connector" ("id" uuid not null, "tenant_id" uuid not null, "source_system" text not null, "tap_name" text not null, "connector_type" text check ("connector_type" in ('MELTANO', 'AIRBYTE', 'FIVETRAN', 'CUSTOM')) not null default 'MELTANO', "destination_catalog" text not null, "destination_table" text not null, "lakehouse_namespace" text not null, "sync_schedule" text not null, "tap_version" text null, "meltano_environment" text not null, "status" text check ("status" in ('ACTIVE', 'PAUSED', 'ERROR')) not null default 'ACTIVE', "consecutive_failures" int not null default 0, "rows_total" bigint not null default 0, "last_synced_at" timestamptz(3) null, "next_run_at" timestamptz(3) null, "sync_requested_at" timestamptz(3) null, "config_envelope" text null, "config_source" text check ("config_source" in ('GANTRY', 'CLIENT')) null, "webhook_secret_envelope" text not null, "created_at" timestamptz(3) not null default now(), "updated_at" timestamptz(3) not null default now(), constraint "connector_pkey" primary key ("id"));`);
    this.addSql(`create index "connector_status_next_run_at_index" on "connector" ("status", "next_run_at");`);
    this.addSql(`create index "connector_tenant_id_created_at_id_index" on "connector" ("tenant_id", "created_at", "id");`);

    this.addSql(`create table "connector_tap_state" ("connector_id" uuid not null, "tenant_id" uuid not null, "state" jsonb not null, "run_id" uuid null, "updated_at" timestamptz(3) not null default now(), constraint "connector_tap_state_pkey" primary key ("connector_id"));`);

    this.addSql(`create table "connector_field_mapping" ("id" uuid not null, "tenant_id" uuid not null, "connector_id" uuid not null, "position" int not null, "stream" text not null, "source_field" text not null, "destination_column" text not null, "transform" text null, "data_type" text null, "is_key" boolean not null default false, constraint "connector_field_mapping_pkey" primary key ("id"));`);
    this.addSql(`create index "connector_field_mapping_connector_id_position_index" on "connector_field_mapping" ("connector_id", "position");`);

    this.addSql(`create table "connector_run" ("id" uuid not null, "tenant_id" uuid not null, "connector_id" uuid not null, "status" text check ("status" in ('QUEUED', 'RUNNING', 'LOADING', 'COMPLETED', 'FAILED', 'CANCELLED')) not null default 'QUEUED', "trigger" text check ("trigger" in ('SCHEDULE', 'MANUAL')) not null default 'SCHEDULE', "rows_synced" bigint null, "rows_loaded" bigint null, "transform_errors" int not null default 0, "lakehouse_table" text null, "queued_at" timestamptz(3) not null default now(), "started_at" timestamptz(3) null, "completed_at" timestamptz(3) null, "deadline_at" timestamptz(3) null, "error_msg" text null, "reported_state" jsonb null, constraint "connector_run_pkey" primary key ("id"));`);
    this.addSql(`create index "connector_run_status_deadline_at_index" on "connector_run" ("status", "deadline_at");`);
    this.addSql(`create index "connector_run_connector_id_queued_at_id_index" on "connector_run" ("connector_id", "queued_at", "id");`);
    // One in-flight run per connector, whichever process inserts it (see run.entity.ts).
    this.addSql(`create unique index "connector_run_one_in_flight" on "connector_run" ("connector_id") where "status" in ('QUEUED', 'RUNNING', 'LOADING');`);

    this.addSql(`create table "connector_webhook_delivery" ("connector_id" uuid not null, "webhook_id" text not null, "tenant_id" uuid not null, "response_status" int not null, "response_data" jsonb not null, "received_at" timestamptz(3) not null default now(), constraint "connector_webhook_delivery_pkey" primary key ("connector_id", "webhook_id"));`);

    this.addSql(`alter table "connector" add constraint "connector_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "connector_tap_state" add constraint "connector_tap_state_connector_id_foreign" foreign key ("connector_id") references "connector" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "connector_tap_state" add constraint "connector_tap_state_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "connector_field_mapping" add constraint "connector_field_mapping_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "connector_field_mapping" add constraint "connector_field_mapping_connector_id_foreign" foreign key ("connector_id") references "connector" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "connector_run" add constraint "connector_run_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "connector_run" add constraint "connector_run_connector_id_foreign" foreign key ("connector_id") references "connector" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "connector_webhook_delivery" add constraint "connector_webhook_delivery_connector_id_foreign" foreign key ("connector_id") references "connector" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "connector_webhook_delivery" add constraint "connector_webhook_delivery_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    for (const table of ["connector_webhook_delivery", "connector_run", "connector_field_mapping", "connector_tap_state", "connector"]) {
      this.addSql(`drop table if exists "${table}" cascade;`);
    }
  }
}
