-- Tenant schema, version 001: the tenant's datasets (tables it exposes) and their columns.
-- Applied by step 3 of the provisioning pipeline with search_path set to the tenant schema.
create table dataset (
  id uuid primary key default gen_random_uuid(),
  name text not null unique,
  description text,
  created_at timestamptz(3) not null default now()
);

create table dataset_column (
  dataset_id uuid not null references dataset (id) on delete cascade,
  name text not null,
  data_type text not null,
  primary key (dataset_id, name)
);
