-- Tenant schema, version 002: an append-only audit trail of changes made in the tenant's data.
create table audit_log (
  id bigint generated always as identity primary key,
  occurred_at timestamptz(3) not null default now(),
  actor text not null,
  action text not null,
  detail jsonb not null default '{}'
);

create index audit_log_occurred_at_idx on audit_log (occurred_at);
