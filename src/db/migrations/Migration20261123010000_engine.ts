import { Migration } from "@mikro-orm/migrations";

/** The workflow engine: workflows, their steps (which are also the work queue), callback tokens. */
export class Migration20261123010000_engine extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "workflow" (
      "id" uuid not null,
      "tenant_id" uuid not null,
      "kind" text not null,
      "service_slug" text null,
      "status" text check ("status" in ('PENDING', 'RUNNING', 'WAITING', 'COMPLETED', 'FAILED', 'ROLLING_BACK', 'ROLLED_BACK', 'CANCELLED')) not null default 'PENDING',
      "input" jsonb not null default '{}',
      "error" text null,
      "created_at" timestamptz(3) not null default now(),
      "updated_at" timestamptz(3) not null default now(),
      "completed_at" timestamptz(3) null,
      constraint "workflow_pkey" primary key ("id"));`);
    this.addSql(`create index "workflow_tenant_id_service_slug_created_at_index" on "workflow" ("tenant_id", "service_slug", "created_at");`);
    this.addSql(`create index "workflow_tenant_id_created_at_id_index" on "workflow" ("tenant_id", "created_at", "id");`);
    this.addSql(`create index "workflow_created_at_id_index" on "workflow" ("created_at", "id");`);
    this.addSql(`alter table "workflow" add constraint "workflow_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);

    this.addSql(`create table "workflow_step" (
      "id" uuid not null,
      "workflow_id" uuid not null,
      "tenant_id" uuid not null,
      "name" text not null,
      "position" int not null,
      "kind" text check ("kind" in ('action', 'callback', 'poll')) not null,
      "status" text check ("status" in ('PENDING', 'RUNNING', 'WAITING_CALLBACK', 'WAITING_POLL', 'COMPLETED', 'FAILED', 'SKIPPED', 'COMPENSATING', 'COMPENSATED', 'COMPENSATION_FAILED')) not null default 'PENDING',
      "attempt" int not null default 0,
      "attempt_base" int not null default 0,
      "retry_count" int not null default 0,
      "max_attempts" int not null,
      "due_at" timestamptz(3) null,
      "leased_until" timestamptz(3) null,
      "lease_owner" text null,
      "started_at" timestamptz(3) null,
      "completed_at" timestamptz(3) null,
      "next_attempt_at" timestamptz(3) null,
      "deadline_at" timestamptz(3) null,
      "error" text null,
      "output" jsonb null,
      "secret_output" text null,
      "state" jsonb null,
      "created_at" timestamptz(3) not null default now(),
      "updated_at" timestamptz(3) not null default now(),
      constraint "workflow_step_pkey" primary key ("id"));`);
    this.addSql(`create index "workflow_step_due_at_index" on "workflow_step" ("due_at");`);
    this.addSql(`alter table "workflow_step" add constraint "workflow_step_workflow_id_name_unique" unique ("workflow_id", "name");`);
    this.addSql(`alter table "workflow_step" add constraint "workflow_step_workflow_id_position_unique" unique ("workflow_id", "position");`);
    this.addSql(`alter table "workflow_step" add constraint "workflow_step_workflow_id_foreign" foreign key ("workflow_id") references "workflow" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "workflow_step" add constraint "workflow_step_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);

    this.addSql(`create table "workflow_callback_token" (
      "token_hash" text not null,
      "step_id" uuid not null,
      "attempt" int not null,
      "expires_at" timestamptz(3) not null,
      "used_at" timestamptz(3) null,
      "created_at" timestamptz(3) not null default now(),
      constraint "workflow_callback_token_pkey" primary key ("token_hash"));`);
    this.addSql(`create index "workflow_callback_token_step_id_index" on "workflow_callback_token" ("step_id");`);
    this.addSql(`alter table "workflow_callback_token" add constraint "workflow_callback_token_step_id_foreign" foreign key ("step_id") references "workflow_step" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "workflow_callback_token";`);
    this.addSql(`drop table if exists "workflow_step";`);
    this.addSql(`drop table if exists "workflow";`);
  }
}
