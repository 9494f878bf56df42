import { Migration } from "@mikro-orm/migrations";

/**
 * Fewer index entries per step transition (issue 3). Every step update changes `due_at`, so none
 * is a HOT update and each new row version gets an entry in every index of `workflow_step`:
 *  - the queue index keeps only rows that have a due time (waiting to run, leased, retrying,
 *    waiting with a deadline); PENDING steps not yet due and finished steps — most of the table —
 *    have none;
 *  - the unique (workflow_id, name) constraint goes: step names are unique per definition
 *    (`defineWorkflow` refuses duplicates) and rows are only ever written from a definition;
 *    (workflow_id, position) stays unique and serves the lookups by workflow.
 * The workflow rows' updates (status, updated_at: no indexed column) are HOT when their page has
 * room: leave room.
 */
export class Migration20261123050000_engine_queue_index extends Migration {
  override async up(): Promise<void> {
    this.addSql(`drop index if exists "workflow_step_due_at_index";`);
    this.addSql(`create index "workflow_step_due_at_index" on "workflow_step" ("due_at") where "due_at" is not null;`);
    this.addSql(`alter table "workflow_step" drop constraint if exists "workflow_step_workflow_id_name_unique";`);
    this.addSql(`alter table "workflow" set (fillfactor = 80);`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "workflow" reset (fillfactor);`);
    this.addSql(`alter table "workflow_step" add constraint "workflow_step_workflow_id_name_unique" unique ("workflow_id", "name");`);
    this.addSql(`drop index if exists "workflow_step_due_at_index";`);
    this.addSql(`create index "workflow_step_due_at_index" on "workflow_step" ("due_at");`);
  }
}
