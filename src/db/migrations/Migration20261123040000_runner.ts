import { Migration } from "@mikro-orm/migrations";

/** The runner: leases on the runs it executes (issue 6). */
export class Migration20261123040000_runner extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "connector_run_claim" ("run_id" uuid not null, "tenant_id" uuid not null, "attempt" int not null, "runner" text not null, "lease_expires_at" timestamptz(3) not null, "claimed_at" timestamptz(3) not null default now(), constraint "connector_run_claim_pkey" primary key ("run_id"));`);
    this.addSql(`create index "connector_run_claim_lease_expires_at_index" on "connector_run_claim" ("lease_expires_at");`);
    this.addSql(`alter table "connector_run_claim" add constraint "connector_run_claim_run_id_foreign" foreign key ("run_id") references "connector_run" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "connector_run_claim" add constraint "connector_run_claim_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "connector_run_claim" cascade;`);
  }
}
