/** The pipeline's step names and titles, for readers that need no step code (CLI, GraphQL). */
export const TENANT_STEP_TITLES: Readonly<Record<string, string>> = {
  step_1: "Register the tenant",
  step_2: "Create the tenant's database schema",
  step_3: "Apply the tenant's SQL migrations",
  step_4: "Register the lakehouse catalog",
  step_5: "Create the lakehouse namespace",
  step_6: "Create the staging schemas",
  step_7: "Issue the API credentials",
  step_8: "Seed the defaults",
  step_9: "Activate the tenant",
};

export const TENANT_STEP_NAMES: readonly string[] = Object.keys(TENANT_STEP_TITLES);
